"""A new subscriber's RTP-level stream is fed once its connection can carry packets."""

from __future__ import annotations

from media import Relay
from media.testing.client import ClientPool


async def test_a_subscriber_is_fed_only_once_its_connection_is_up(
    relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    feed = room.feeds("alice")["video"]
    await alice.wait_for(
        lambda: feed.stream is not None and feed.stream.media_ssrc is not None,
        10,
        "alice's video at the relay",
    )
    stream = feed.stream
    assert stream is not None
    bob = await clients.join(room, "bob", publish=False)
    peer = room.peer("bob")
    assert peer is not None
    (out,) = [slot.out for slot in peer.slots if slot.kind == "video"]
    # Offered, not answered: a keyframe sent now would be lost (no SRTP keys yet).
    assert out not in stream.outs

    await bob.wait_for(lambda: bool(bob.stream("alice").video_numbers), 10, "bob's first frame")
    assert peer.pc.connectionState == "connected"
    assert out in stream.outs
