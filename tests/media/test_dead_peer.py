"""A participant whose connection dies (closed by the far end, or ICE failed) must not break the
room: later admissions get their offers and media, and the participant can come back."""

from __future__ import annotations

from media import Relay
from media.testing.client import ClientPool, TestClient


def video_count(client: TestClient, publisher: str) -> int:
    got = client.received.get(publisher)
    return len(got.video_numbers) if got else 0


async def test_a_closed_connection_does_not_break_later_admissions(
    any_relay: Relay, clients: ClientPool
) -> None:
    room = any_relay.room("session")
    alice = await clients.join(room, "alice")
    bob = await clients.join(room, "bob")
    await alice.wait_for(lambda: video_count(alice, "bob") >= 5, 15, "bob's video at alice")

    # Bob's browser closes its peer connection but keeps its socket (nobody calls leave).
    await bob.pc.close()
    await bob.wait_for(lambda: "closed" in bob.relay_states, 15, "the relay to see bob's close")
    peer = room.peer("bob")
    assert peer is not None
    assert peer.dead

    carol = await clients.join(room, "carol")
    await carol.wait_for(lambda: video_count(carol, "alice") >= 10, 15, "alice's video at carol")
    await alice.wait_for(lambda: video_count(alice, "carol") >= 10, 15, "carol's video at alice")
    assert not carol.errors
    assert not alice.errors

    # Bob connects again (the same participant): he gets everyone, everyone gets him.
    bob_again = await clients.join(room, "bob")
    await bob_again.wait_for(lambda: video_count(bob_again, "carol") >= 5, 15, "carol at bob")
    seen = video_count(carol, "bob")
    await carol.wait_for(lambda: video_count(carol, "bob") >= seen + 5, 15, "bob at carol")
    assert any_relay.stats().decode_calls == 0
