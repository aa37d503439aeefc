from __future__ import annotations

import io

import av

from media import Relay
from media.frame_tap import FrameTap
from media.testing.client import ClientPool
from media.testing.pattern import HEIGHT, WIDTH, decode_frame_number


def image_number(data: bytes) -> int | None:
    with av.open(io.BytesIO(data), "r") as container:
        frame = next(container.decode(video=0))
    return decode_frame_number(frame)


async def test_snapshots_show_the_latest_frame_without_relay_decodes(
    relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    bob = await clients.join(room, "bob")
    assert alice.video is not None
    await bob.wait_for(lambda: len(bob.stream("alice").video_numbers) >= 30, 10, "call running")
    tap = FrameTap(room, "alice")
    tap.start()
    try:
        for image_format, magic in (("jpeg", b"\xff\xd8"), ("png", b"\x89PNG")):
            # Alice's encoder sent its only periodic keyframe long ago: the first snapshot
            # asks for one; the second decodes from the buffered keyframe onwards.
            snapshot = await tap.snapshot(image_format)
            assert snapshot.data.startswith(magic)
            assert (snapshot.width, snapshot.height) == (WIDTH, HEIGHT)
            number = image_number(snapshot.data)
            assert number is not None
            # The newest frame the relay had: a few frames behind what alice just made.
            assert alice.video.frames_sent - 15 <= number <= alice.video.frames_sent
            # Its timestamp is that frame's: a source that fell behind skips timestamps ahead
            # (like a camera), so frame n sits at n/30 s or later, never earlier.
            assert snapshot.pts / 90000 >= number / 30 - 0.1
        assert tap.decodes >= 2
        # The tap decoded; the relay's forwarding path did not.
        assert relay.stats().decode_calls == 0
        assert relay.stats().encode_calls == 0
    finally:
        tap.close()
    assert tap not in room.feeds("alice")["video"].sinks
