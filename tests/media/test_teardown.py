from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import Callable

from aiortc import RTCPeerConnection

from media import Relay
from media.testing.client import ClientPool, TestClient


def media_threads() -> set[threading.Thread]:
    # asyncio's default executor threads belong to the event loop (the test clients encode in
    # it) and end with the loop; every other thread must be gone once everything is closed.
    return {t for t in threading.enumerate() if not t.name.startswith("asyncio_")}


async def settle(check: Callable[[], bool], within: float = 5.0) -> None:
    # Closing returns before every aiortc callback has run; give them a moment.
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)


def video_count(client: TestClient, publisher: str) -> int:
    got = client.received.get(publisher)
    return len(got.video_numbers) if got else 0


async def test_close_leaves_no_tasks_threads_or_connections() -> None:
    tasks_before = asyncio.all_tasks()
    threads_before = media_threads()

    relay = Relay()
    clients = ClientPool()
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    bob = await clients.join(room, "bob")
    await clients.join(room, "observer", publish=False)
    await alice.wait_for(lambda: video_count(alice, "bob") > 10, 15, "bob at alice")
    await bob.wait_for(lambda: video_count(bob, "alice") > 10, 15, "alice at bob")
    assert len(media_threads()) > len(threads_before), "decoder threads were running"

    relay_pcs: list[weakref.ref[RTCPeerConnection]] = []
    for participant in room.participants():
        peer = room.peer(participant)
        assert peer is not None
        relay_pcs.append(weakref.ref(peer.pc))
    # One participant leaves on their own, the rest are torn down with the relay.
    await room.leave("bob")
    assert room.feeds("bob") == {}
    await alice.wait_idle()
    await relay.close()
    await clients.close()
    del room, peer

    def clean() -> bool:
        return (
            asyncio.all_tasks() <= tasks_before | {asyncio.current_task()}
            and media_threads() <= threads_before
        )

    await settle(clean)
    assert asyncio.all_tasks() - tasks_before - {asyncio.current_task()} == set()
    assert media_threads() - threads_before == set()
    assert relay.stats().rooms == 0
    assert relay.stats().peers == 0
    gc.collect()
    assert [ref for ref in relay_pcs if ref() is not None] == []
