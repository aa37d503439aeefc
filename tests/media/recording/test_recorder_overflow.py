from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import av
from av.video.frame import PictureType

from media.hooks import MediaEvent
from media.recording.recorder import ParticipantRecorder, RecorderConfig
from media.recording.storage import LocalDirectoryStorage, RecordingStorage
from media.recording.writer import JournalWriter
from media.room import Room
from media.testing.pattern import pattern_frame
from media.testing.recording import decode_recording

KEYFRAMES = (0, 60)


def encode_pattern(count: int) -> list[bytes]:
    """VP8 frames 0..count-1 of the numbered pattern, keyframes only at ``KEYFRAMES``."""
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.bit_rate = 500_000
    encoder.gop_size = 1 << 20
    encoder.options = {"deadline": "realtime", "lag-in-frames": "0"}
    out: list[bytes] = []
    for number in range(count):
        frame = pattern_frame(number)
        frame.pts = number
        frame.pict_type = PictureType.I if number in KEYFRAMES else PictureType.NONE
        out += [bytes(p) for p in encoder.encode(frame)]
    out += [bytes(p) for p in encoder.encode(None)]
    assert len(out) == count
    return out


class VideoFeed:
    """The part of a ``Feed`` a recorder uses: the test hands packets to its sinks."""

    def __init__(self) -> None:
        self.sinks: list[Any] = []
        self.keyframe_requests = 0

    def add_sink(self, sink: Any) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: Any) -> None:
        self.sinks.remove(sink)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def send(self, frames: list[bytes], numbers: range, source: object) -> None:
        for number in numbers:
            packet = av.Packet(frames[number])
            packet.pts = number * 3000
            packet.is_keyframe = number in KEYFRAMES
            for sink in self.sinks:
                sink.on_packet(packet, source)


class OneFeedRoom:
    room_id = "session"

    def __init__(self, feed: VideoFeed) -> None:
        self._feed = feed
        self.journal_writer = JournalWriter()

    def feeds(self, participant_id: str) -> dict[str, Any]:
        return {"video": self._feed}

    def watch_feeds(self, watcher: Any) -> Callable[[], None]:
        return lambda: None

    def emit(self, event: MediaEvent) -> None:
        pass


async def written(recorder: ParticipantRecorder, count: int) -> None:
    for _ in range(100):
        if recorder.stats().journaled["video"] >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the writer journaled {recorder.stats().journaled} of {count} frames")


async def test_packets_past_capacity_are_dropped_and_video_restarts_at_a_keyframe(
    tmp_path: Path,
) -> None:
    frames = encode_pattern(90)
    feed = VideoFeed()
    storage = LocalDirectoryStorage(tmp_path)
    # No sender reports here: time packets by arrival at once.
    config = RecorderConfig(queue_capacity=30, sync_wait=0.0)
    room = OneFeedRoom(feed)
    recorder = ParticipantRecorder(cast(Room, room), "alice", storage, config)
    recorder.start()
    source = object()

    # Faster than the writer takes them (it works in batches): 30 fit, the rest are dropped.
    feed.send(frames, range(50), source)
    assert recorder.stats().dropped == 20
    # The first drop asked for a keyframe to restart video on, once for the whole gap.
    assert feed.keyframe_requests == 1
    await written(recorder, 30)
    # After the gap, video waits for the next keyframe.
    feed.send(frames, range(50, 75), source)
    await written(recorder, 45)
    feed.send(frames, range(75, 90), source)
    result = await recorder.finalize()

    numbers = [n for _, n in decode_recording(storage.path_of(result.path)).video]
    assert numbers == [*range(30), *range(60, 90)]
    assert recorder.stats().dropped == 20
    assert result.segments == 2
    for name in storage.segments("alice"):
        assert decode_recording(storage.path_of(name)).video_unreadable == 0
    room.journal_writer.close()


class ElsewhereStorage:
    """A RecordingStorage that is not a local directory (as an object store would be)."""

    def __init__(self, local: LocalDirectoryStorage) -> None:
        self._local = local

    def __getattr__(self, name: str) -> Any:
        return getattr(self._local, name)


async def test_a_storage_that_is_not_a_local_directory_is_built_in_process(
    tmp_path: Path,
) -> None:
    frames = encode_pattern(90)
    feed = VideoFeed()
    local = LocalDirectoryStorage(tmp_path)
    storage = cast(RecordingStorage, ElsewhereStorage(local))
    config = RecorderConfig(sync_wait=0.0)
    room = OneFeedRoom(feed)
    recorder = ParticipantRecorder(cast(Room, room), "alice", storage, config)
    recorder.start()
    feed.send(frames, range(90), object())
    result = await recorder.finalize()

    numbers = [n for _, n in decode_recording(local.path_of(result.path)).video]
    assert numbers == list(range(90))
    assert recorder.stats().written["video"] == 90
    assert local.is_finalized("alice")
    room.journal_writer.close()
