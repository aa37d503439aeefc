"""Muxes one participant's encoded VP8/Opus packets into short, keyframe-aligned WebM segments.

No decoding and no encoding: packets are copied into the container as they came from the
publisher. Every segment's video starts with a keyframe, so each committed segment decodes on
its own, and a crash loses at most the segment being written. Runs on the recorder's thread.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import av
from av.container import OutputContainer

from media.storage import RecordingStorage, WritableObject

MILLISECONDS = fractions.Fraction(1, 1000)
# Until the first keyframe tells the real size (the header needs one; decoders use the
# bitstream's own size, and a size change starts a new segment anyway).
_DEFAULT_SIZE = (640, 480)
# A segment with audio but no video for this long (camera off) may rotate on audio alone.
_NO_VIDEO_MS = 1000
# Audio packets held until the first keyframe gives the video size for the header (1 s).
_EARLY_AUDIO = 50


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 section 9.1), else None."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return (data[6] | data[7] << 8) & 0x3FFF, (data[8] | data[9] << 8) & 0x3FFF


def open_webm(file: BinaryIO, size: tuple[int, int]) -> tuple[OutputContainer, dict[str, Any]]:
    """A WebM container with stream 0 = VP8 video, stream 1 = Opus audio, both 1/1000 s.

    The codec contexts only describe the streams for the header (for Opus, PyAV's encoder
    context supplies the OpusHead that WebM needs); nothing is ever encoded with them.
    """
    container = av.open(file, "w", format="webm")
    video = container.add_stream("vp8")
    video.width, video.height = size
    video.time_base = MILLISECONDS
    audio = container.add_stream("opus", rate=48000)
    audio.layout = "stereo"
    audio.time_base = MILLISECONDS
    return container, {"video": video, "audio": audio}


@dataclass(frozen=True)
class SegmentInfo:
    name: str
    kinds: tuple[str, ...]
    first_ms: int
    last_ms: int
    bytes: int


class _Segment:
    def __init__(self, handle: WritableObject, size: tuple[int, int]) -> None:
        self.handle = handle
        self.size = size
        self.container, self.streams = open_webm(handle.file, size)
        self.first_ms: int | None = None
        self.last_ms = 0
        self.last_video_ms: int | None = None
        self.kinds: set[str] = set()
        self.keyframe_asked_ms: int | None = None

    def mux(self, kind: str, packet: av.Packet[Any], at_ms: int) -> None:
        copy = av.Packet(bytes(packet))
        copy.pts = copy.dts = at_ms
        copy.time_base = MILLISECONDS
        copy.is_keyframe = packet.is_keyframe
        copy.stream = self.streams[kind]
        self.container.mux(copy)
        if self.first_ms is None:
            self.first_ms = at_ms
        self.last_ms = max(self.last_ms, at_ms)
        self.kinds.add(kind)
        if kind == "video":
            self.last_video_ms = at_ms

    def age(self, at_ms: int) -> int:
        return 0 if self.first_ms is None else at_ms - self.first_ms


class SegmentWriter:
    """Single-threaded: every call comes from the recorder's writer thread."""

    def __init__(
        self,
        storage: RecordingStorage,
        participant_id: str,
        segment_seconds: float,
        request_keyframe: Callable[[], None],
        on_segment: Callable[[SegmentInfo], None],
    ) -> None:
        self._storage = storage
        self._participant_id = participant_id
        self._segment_ms = int(segment_seconds * 1000)
        self._request_keyframe = request_keyframe
        self._on_segment = on_segment
        self._segment: _Segment | None = None
        self._index = 0
        self._size = _DEFAULT_SIZE
        self._size_known = False
        # Video waits for a keyframe: at the start, after a pause and after lost packets.
        self._need_keyframe = True
        self._last_ms = {"video": -1, "audio": -1}
        self._early_audio: list[tuple[av.Packet[Any], int]] = []
        self.written = {"video": 0, "audio": 0}
        self.skipped_before_keyframe = 0

    def resync(self) -> None:
        """Video packets were lost or left out: restart video (in a new segment) at a keyframe."""
        if not self._need_keyframe:
            self._need_keyframe = True
            self._request_keyframe()

    def write(self, kind: str, packet: av.Packet[Any], at_ms: int) -> None:
        # Each stream's timestamps must increase, also across segments (they are concatenated).
        at_ms = max(at_ms, self._last_ms[kind] + 1)
        segment = self._segment
        if kind == "video":
            if not packet.is_keyframe:
                if self._need_keyframe or segment is None:
                    self.skipped_before_keyframe += 1
                    self._request_keyframe()
                    return
                if segment.age(at_ms) >= self._segment_ms:
                    self._ask_keyframe_once(segment, at_ms)
            else:
                size = vp8_size(bytes(packet)) or self._size
                if (
                    segment is None
                    or self._need_keyframe
                    or segment.age(at_ms) >= self._segment_ms
                    or size != segment.size
                ):
                    self._size, self._size_known = size, True
                    segment = self._rotate()
                self._need_keyframe = False
        elif segment is None and not self._size_known and len(self._early_audio) < _EARLY_AUDIO:
            # The segment header needs the video size, which only a keyframe tells.
            self._early_audio.append((packet, at_ms))
            self._last_ms[kind] = at_ms
            return
        elif segment is None or self._audio_only_too_long(segment, at_ms):
            segment = self._rotate()
        assert segment is not None
        for early, early_ms in self._early_audio:
            segment.mux("audio", early, early_ms)
            self.written["audio"] += 1
        self._early_audio.clear()
        segment.mux(kind, packet, at_ms)
        self._last_ms[kind] = at_ms
        self.written[kind] += 1

    def _audio_only_too_long(self, segment: _Segment, at_ms: int) -> bool:
        if segment.age(at_ms) < 2 * self._segment_ms:
            return False
        return segment.last_video_ms is None or at_ms - segment.last_video_ms >= _NO_VIDEO_MS

    def _ask_keyframe_once(self, segment: _Segment, at_ms: int) -> None:
        # A segment is due: ask once, and again each second the answer is missing (lost PLI).
        if segment.keyframe_asked_ms is None or at_ms - segment.keyframe_asked_ms >= 1000:
            segment.keyframe_asked_ms = at_ms
            self._request_keyframe()

    def _rotate(self) -> _Segment:
        self._finish()
        self._index += 1
        handle = self._storage.open_segment(self._participant_id, self._index)
        self._segment = _Segment(handle, self._size)
        return self._segment

    def close_segment(self) -> None:
        """Finish the open segment (pause, stop, rotation); the next write opens a new one."""
        if self._early_audio:
            # No keyframe came (camera off): the audio is kept, with a default video size.
            segment = self._segment or self._rotate()
            for early, early_ms in self._early_audio:
                segment.mux("audio", early, early_ms)
                self.written["audio"] += 1
            self._early_audio.clear()
        self._finish()

    def _finish(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if segment.first_ms is None:
            segment.container.close()
            segment.handle.abort()
            return
        segment.container.close()
        size = segment.handle.commit()
        self._on_segment(
            SegmentInfo(
                segment.handle.name,
                tuple(sorted(segment.kinds)),
                segment.first_ms,
                segment.last_ms,
                size,
            )
        )

    def abort(self) -> None:
        segment, self._segment = self._segment, None
        if segment is not None:
            try:
                segment.container.close()
            finally:
                segment.handle.abort()
