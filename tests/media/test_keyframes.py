from __future__ import annotations

import asyncio
from typing import Any

import av

from media import Relay
from media.testing.client import ClientPool


class KeyframeCounter:
    def __init__(self) -> None:
        self.packets = 0
        self.keyframes = 0

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        self.packets += 1
        self.keyframes += int(packet.is_keyframe)


async def test_keyframe_requests_are_answered_and_rate_limited(
    relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    counter = KeyframeCounter()
    room.feeds("alice")["video"].add_sink(counter)
    await alice.wait_for(lambda: counter.packets >= 30, 10, "alice's video")
    await asyncio.sleep(0.6)  # past the rate-limit window of any earlier request
    keyframes_before = counter.keyframes
    requests_before = relay.stats().keyframe_requests

    # A burst of requests (subscribers joining at once, each sending PLIs) over ~1 s.
    for _ in range(20):
        await room.request_keyframe("alice")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)

    sent = relay.stats().keyframe_requests - requests_before
    assert 1 <= sent <= 4, sent  # 0.5 s interval: about one PLI per window, not 20
    assert counter.keyframes > keyframes_before, "the publisher answered with a keyframe"
