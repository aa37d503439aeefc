from __future__ import annotations

from media import Relay
from media.testing.client import ClientPool, TestClient


def numbers(client: TestClient, publisher: str) -> list[int]:
    got = client.received.get(publisher)
    return got.video_numbers if got else []


async def test_reconnect_replaces_stream_and_keeps_slots(
    any_relay: Relay, clients: ClientPool
) -> None:
    relay = any_relay
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    bob = await clients.join(room, "bob")
    await alice.wait_for(lambda: len(numbers(alice, "bob")) >= 60, 15, "bob's first stream")
    await alice.wait_idle()
    offers_before = len(alice.offers)
    seen_before = len(numbers(alice, "bob"))

    old_revision = bob.offers[-1][1]
    # Bob's network changed: a new peer connection under the same id (aiortc has no ICE restart).
    new_bob = await clients.join(room, "bob")
    await bob.close()
    # Revisions continue across the replacement: a late answer from the old one is stale.
    assert new_bob.offers[0][1] > old_revision

    def new_stream_arrived() -> bool:
        later = numbers(alice, "bob")[seen_before:]
        # The new client's pattern restarts from 0: small numbers mean its stream is shown.
        return sum(1 for n in later if n < 60) >= 20

    await alice.wait_for(new_stream_arrived, 10, "bob's new stream at alice")
    await new_bob.wait_for(lambda: len(numbers(new_bob, "alice")) >= 10, 10, "alice at new bob")
    # Alice kept her m-lines for bob: no renegotiation was needed on her side.
    assert len(alice.offers) == offers_before
    assert room.participants() == ["alice", "bob"]
    assert relay.stats().peers == 2
    assert relay.stats().decode_calls == 0
