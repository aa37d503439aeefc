from __future__ import annotations

from aiortc import sdp

from media import Relay
from media.testing.client import ClientPool, TestClient


def video_count(client: TestClient, publisher: str) -> int:
    got = client.received.get(publisher)
    return len(got.video_numbers) if got else 0


def mline_count(client: TestClient) -> int:
    return len(sdp.SessionDescription.parse(client.offers[-1][0]).media)


async def test_leave_and_rejoin_reuses_mlines(any_relay: Relay, clients: ClientPool) -> None:
    relay = any_relay
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    await alice.wait_idle()

    counts = []
    for _cycle in range(4):
        bob = await clients.join(room, "bob")
        await alice.wait_for(lambda: mline_count(alice) == 4, 10, "bob's m-lines at alice")
        await alice.wait_idle()
        await bob.wait_idle()
        await room.leave("bob")
        await alice.wait_for(lambda: "a=inactive" in alice.offers[-1][0], 10, "bob's m-lines idled")
        await alice.wait_idle()
        counts.append(mline_count(alice))
        await bob.close()

    # Alice's own audio+video plus one idle pair, however often bob comes and goes.
    assert counts == [4, 4, 4, 4]
    revisions = [revision for _, revision in alice.offers]
    assert revisions == sorted(set(revisions))

    # The reused m-lines still carry media when bob is back.
    bob = await clients.join(room, "bob")
    seen = video_count(alice, "bob")
    await alice.wait_for(lambda: video_count(alice, "bob") >= seen + 15, 10, "bob's video again")
    assert mline_count(alice) == 4
    await bob.wait_for(lambda: video_count(bob, "alice") >= 10, 10, "alice's video at bob")
