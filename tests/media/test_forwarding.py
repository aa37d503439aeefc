from __future__ import annotations

from media import Relay
from media.testing.client import ClientPool, TestClient


def assert_in_order(numbers: list[int]) -> None:
    assert numbers == sorted(numbers), numbers[:50]
    assert len(set(numbers)) == len(numbers), "frames duplicated"


def has_media(client: TestClient, publisher: str, video: int = 45, audio: int = 50) -> bool:
    got = client.received.get(publisher)
    return got is not None and len(got.video_numbers) >= video and got.audio_frames >= audio


async def test_two_publishers_see_and_hear_each_other(
    any_relay: Relay, clients: ClientPool
) -> None:
    relay = any_relay
    room = relay.room("session-1")
    alice = await clients.join(room, "alice", tone_hz=500.0)
    bob = await clients.join(room, "bob", tone_hz=1000.0)

    await alice.wait_for(lambda: has_media(alice, "bob"), 15, "bob's media at alice")
    await bob.wait_for(lambda: has_media(bob, "alice"), 15, "alice's media at bob")

    for client, other, tone in ((alice, "bob", 1000.0), (bob, "alice", 500.0)):
        got = client.received[other]
        assert_in_order(got.video_numbers)
        assert got.video_unreadable <= 2
        # The tone survives Opus: the audio really is the other participant's.
        middle = sorted(got.tones)[len(got.tones) // 2]
        assert abs(middle - tone) < tone * 0.1, got.tones
        # Every received track is labelled with its publisher's id, and only the other's.
        assert set(client.received) == {other}

    assert "connected" in alice.relay_states
    assert "connected" in bob.relay_states

    stats = relay.stats()
    assert stats.decode_calls == 0
    assert stats.encode_calls == 0
    assert stats.forwarded_packets > 0
    assert stats.rooms == 1
    assert stats.peers == 2

    await room.leave("bob")
    assert "closed" in bob.relay_states
    assert room.participants() == ["alice"]
