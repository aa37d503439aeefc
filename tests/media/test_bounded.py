from __future__ import annotations

import asyncio

import av

from media import Relay, RelayConfig
from media.aiortc import PassthroughQueue
from media.bounded_queue import DropOldestQueue
from media.testing.client import ClientPool


def test_drop_oldest_queue_keeps_the_newest() -> None:
    dropped: list[int] = []
    queue: DropOldestQueue[int] = DropOldestQueue(3, lambda: dropped.append(1))
    for i in range(10):
        queue.put_nowait(i)
    assert queue.qsize() == 3
    assert queue.dropped == 7
    assert len(dropped) == 7
    assert [queue.get_nowait() for _ in range(3)] == [7, 8, 9]


async def test_passthrough_queue_always_delivers_end_of_stream() -> None:
    queue = PassthroughQueue(2)
    for _ in range(5):
        queue.put_nowait(av.Packet(b"x"))
    await queue.put(None)
    assert queue.qsize() == 2
    assert isinstance(await queue.get(), av.Packet)
    assert await queue.get() is None


async def test_subscriber_that_never_answers_costs_bounded_memory(clients: ClientPool) -> None:
    # Frame-level forwarding queues frames for each subscriber's sender: bounded.
    relay = Relay(RelayConfig(queue_capacity=8, forwarding="frames"))
    try:
        room = relay.room("session")
        alice = await clients.join(room, "alice")
        await alice.wait_idle()

        offers: list[int] = []

        async def ignore_offer(sdp: str, revision: int) -> None:
            offers.append(revision)

        # Bob's slots start filling as soon as they exist; his sender never starts.
        await room.join("bob", publish=False, on_offer=ignore_offer)
        peer = room.peer("bob")
        assert peer is not None
        for _ in range(60):
            await asyncio.sleep(0.1)
            for slot in peer.slots:
                assert slot.track.queue.qsize() <= 8
            if relay.stats().dropped_packets > 40:
                break
        assert relay.stats().dropped_packets > 40
        assert offers == [1]
    finally:
        await relay.close()


async def test_rtp_level_forwarding_holds_nothing_for_a_subscriber_that_never_answers(
    clients: ClientPool,
) -> None:
    relay = Relay(RelayConfig(queue_capacity=8))
    try:
        room = relay.room("session")
        alice = await clients.join(room, "alice")
        await alice.wait_idle()

        async def ignore_offer(sdp: str, revision: int) -> None:
            pass

        await room.join("bob", publish=False, on_offer=ignore_offer)
        peer = room.peer("bob")
        assert peer is not None
        for _ in range(50):
            await asyncio.sleep(0.1)
            if relay.stats().rtp_received_packets > 100:
                break
        # Alice's packets arrive and are taken, but nothing is kept or sent for Bob: his
        # m-lines never reached "sendonly".
        stats = relay.stats()
        assert stats.rtp_received_packets > 100
        assert stats.rtp_forwarded_packets == 0
        for slot in peer.slots:
            assert slot.out is not None
            assert slot.track.queue.qsize() == 0
    finally:
        await relay.close()
