"""Muxes one participant's encoded VP8/Opus packets into short, keyframe-aligned WebM segments.

No decoding and no encoding: packets are copied into the container as they came from the
publisher. Every segment's video starts with a keyframe, so each committed segment decodes on
its own, and a crash loses at most the segment being written. Runs on the recorder's thread.

Segments are written by ``WebmWriter`` (below), not by PyAV: a block is a few header bytes in
front of the packet's bytes. PyAV's way cost ~5 us per packet (a new ``av.Packet``, five
attributes, ``mux`` with a GIL release and retake); ``SegmentWriter.write`` now takes ~2.7 us
per packet, files included. ``remux`` writes the final (seekable) file with PyAV.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import av

from media.recording.storage import RecordingStorage, WritableObject

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


# Matroska (RFC 9559) element ids, the ones a segment uses.
_IDS = {
    "EBML": "1a45dfa3",
    "EBMLVersion": "4286",
    "EBMLReadVersion": "42f7",
    "EBMLMaxIDLength": "42f2",
    "EBMLMaxSizeLength": "42f3",
    "DocType": "4282",
    "DocTypeVersion": "4287",
    "DocTypeReadVersion": "4285",
    "Segment": "18538067",
    "Info": "1549a966",
    "TimestampScale": "2ad7b1",
    "MuxingApp": "4d80",
    "WritingApp": "5741",
    "Duration": "4489",
    "Tracks": "1654ae6b",
    "TrackEntry": "ae",
    "TrackNumber": "d7",
    "TrackUID": "73c5",
    "TrackType": "83",
    "FlagLacing": "9c",
    "CodecID": "86",
    "CodecPrivate": "63a2",
    "CodecDelay": "56aa",
    "SeekPreRoll": "56bb",
    "Video": "e0",
    "PixelWidth": "b0",
    "PixelHeight": "ba",
    "Audio": "e1",
    "SamplingFrequency": "b5",
    "Channels": "9f",
    "Cluster": "1f43b675",
    "Timestamp": "e7",
}
_TRACKS = {"video": 1, "audio": 2}
# What libopus (through PyAV/FFmpeg) puts in a stereo 48 kHz header: 312 samples pre-skip.
_OPUS_HEAD = b"OpusHead\x01\x02" + struct.pack("<HIhB", 312, 48000, 0, 0)
_OPUS_DELAY_NS = 312 * 1_000_000_000 // 48000
# Demuxers move Opus blocks back by the codec delay (FFmpeg: rounded to 7 ms), so they are
# written that much later, as FFmpeg's own muxer does: audio reads back at its own time.
_OPUS_DELAY_MS = (_OPUS_DELAY_NS + 500_000) // 1_000_000
_OPUS_PRE_ROLL_NS = 80_000_000
# A cluster ends at a video keyframe or after this long (block times are 16-bit offsets).
_CLUSTER_MS = 1000
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
_SIMPLE_BLOCK = b"\xa3"


def _size(length: int, width: int = 0) -> bytes:
    """An EBML data size: the shortest vint, or ``width`` bytes (patched in place later)."""
    if not width:
        width = 1
        while length >= (1 << (7 * width)) - 1:
            width += 1
    return (1 << (7 * width) | length).to_bytes(width, "big")


def _element(name: str, body: bytes | int | str) -> bytes:
    if isinstance(body, int):
        body = body.to_bytes(max(1, (body.bit_length() + 7) // 8), "big")
    elif isinstance(body, str):
        body = body.encode()
    return bytes.fromhex(_IDS[name]) + _size(len(body)) + body


def _tracks(size: tuple[int, int]) -> bytes:
    video = [
        _element("TrackNumber", _TRACKS["video"]),
        _element("TrackUID", _TRACKS["video"]),
        _element("TrackType", 1),
        _element("FlagLacing", 0),
        _element("CodecID", "V_VP8"),
        _element("Video", _element("PixelWidth", size[0]) + _element("PixelHeight", size[1])),
    ]
    audio = [
        _element("TrackNumber", _TRACKS["audio"]),
        _element("TrackUID", _TRACKS["audio"]),
        _element("TrackType", 2),
        _element("FlagLacing", 0),
        _element("CodecID", "A_OPUS"),
        _element("CodecPrivate", _OPUS_HEAD),
        _element("CodecDelay", _OPUS_DELAY_NS),
        _element("SeekPreRoll", _OPUS_PRE_ROLL_NS),
        _element(
            "Audio",
            _element("Channels", 2) + _element("SamplingFrequency", struct.pack(">d", 48000.0)),
        ),
    ]
    entries = [_element("TrackEntry", b"".join(track)) for track in (video, audio)]
    return _element("Tracks", b"".join(entries))


class WebmWriter:
    """A WebM file: VP8 on track 1, Opus on track 2, millisecond timestamps, no re-encode.

    Blocks gather in memory and are written one cluster at a time; a cluster starts at each
    video keyframe and at least every second. There are no cues (a segment is read from its
    start; the final file, written by PyAV in ``remux``, has them). ``close`` fills in the
    segment's size and duration, so a file that was never closed still reads up to its last
    complete cluster.
    """

    def __init__(self, file: BinaryIO, size: tuple[int, int]) -> None:
        self._file = file
        ebml = _element(
            "EBML",
            _element("EBMLVersion", 1)
            + _element("EBMLReadVersion", 1)
            + _element("EBMLMaxIDLength", 4)
            + _element("EBMLMaxSizeLength", 8)
            + _element("DocType", "webm")
            + _element("DocTypeVersion", 4)
            + _element("DocTypeReadVersion", 2),
        )
        # Duration comes last in Info, so its 8 bytes are the last 8 before Tracks.
        info = _element(
            "Info",
            _element("TimestampScale", 1_000_000)
            + _element("MuxingApp", "tandem")
            + _element("WritingApp", "tandem")
            + _element("Duration", bytes(8)),
        )
        self._segment_size_at = file.tell() + len(ebml) + 4
        self._segment_start = self._segment_size_at + len(_UNKNOWN_SIZE)
        self._duration_at = self._segment_start + len(info) - 8
        file.write(ebml + bytes.fromhex(_IDS["Segment"]) + _UNKNOWN_SIZE + info + _tracks(size))
        self._cluster_ms: int | None = None
        self._blocks = bytearray()

    def write(self, kind: str, packet: av.Packet[Any], at_ms: int) -> None:
        keyframe = packet.is_keyframe
        if kind == "audio":
            at_ms += _OPUS_DELAY_MS
        cluster_ms = self._cluster_ms
        if (
            cluster_ms is None
            or (keyframe and kind == "video")
            or not -0x8000 <= at_ms - cluster_ms < _CLUSTER_MS
        ):
            self._end_cluster()
            self._cluster_ms = cluster_ms = at_ms
        offset = at_ms - cluster_ms
        blocks = self._blocks
        blocks += _SIMPLE_BLOCK
        blocks += _size(packet.size + 4, 4)
        blocks += bytes((0x80 | _TRACKS[kind], offset >> 8 & 0xFF, offset & 0xFF))
        blocks += b"\x80" if keyframe else b"\x00"
        blocks += packet

    def _end_cluster(self) -> None:
        if self._cluster_ms is None:
            return
        timestamp = _element("Timestamp", self._cluster_ms)
        size = _size(len(timestamp) + len(self._blocks), 8)
        self._file.write(bytes.fromhex(_IDS["Cluster"]) + size + timestamp)
        self._file.write(self._blocks)
        self._blocks.clear()
        self._cluster_ms = None

    def close(self, duration_ms: int) -> None:
        self._end_cluster()
        file = self._file
        end = file.tell()
        file.seek(self._segment_size_at)
        file.write(_size(end - self._segment_start, 8))
        file.seek(self._duration_at)
        file.write(struct.pack(">d", float(duration_ms)))
        file.seek(end)


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
        self.webm = WebmWriter(handle.file, size)
        self.first_ms: int | None = None
        self.last_ms = 0
        self.last_video_ms: int | None = None
        self.kinds: set[str] = set()
        self.keyframe_asked_ms: int | None = None

    def mux(self, kind: str, packet: av.Packet[Any], at_ms: int) -> None:
        self.webm.write(kind, packet, at_ms)
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
        if self._early_audio:
            self._mux_early_audio(segment)
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
            self._mux_early_audio(self._segment or self._rotate())
        self._finish()

    def _mux_early_audio(self, segment: _Segment) -> None:
        for early, early_ms in self._early_audio:
            segment.mux("audio", early, early_ms)
        self.written["audio"] += len(self._early_audio)
        self._early_audio.clear()

    def _finish(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if segment.first_ms is None:
            segment.handle.abort()
            return
        segment.webm.close(segment.last_ms)
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
            segment.handle.abort()
