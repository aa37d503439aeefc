"""Complete encoded frames from forwarded RTP packets, for frame-level sinks.

Recorders and the frame tap take whole frames (``PacketSink``); the forwarding path itself never
needs them, so a publisher's packets are only assembled while such a sink is attached.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable
from typing import Any

import av

from media.rtp.wire import vp8_descriptor_end

# Packets held while a frame waits for a retransmission, and how far the newest packet may run
# ahead of a missing one before the frame is given up.
VIDEO_WINDOW = 512
GIVE_UP_AFTER = 128
CLOCK_RATES = {"video": 90000, "audio": 48000}
_TIME_BASES = {kind: fractions.Fraction(1, rate) for kind, rate in CLOCK_RATES.items()}

FrameSink = Callable[["av.Packet[Any]"], None]


class Timeline:
    """RTP timestamps -> ticks since the stream's first packet, across 32-bit wraps.

    Started by the stream's first packet, advanced only by the frames asked of it: a frame-level
    sink that attaches more than 2**31 ticks after the last one asked (6.6 h of video) would
    see its timestamps wrong. Sessions are far shorter; forwarding is not affected.
    """

    def __init__(self) -> None:
        self.origin: int | None = None
        self._last_raw = 0
        self._last = 0

    def start(self, timestamp: int) -> None:
        if self.origin is None:
            self.origin = timestamp
            self._last_raw = timestamp

    def pts(self, timestamp: int) -> int | None:
        """None for a timestamp before the first one (a reordered packet from before it)."""
        if self.origin is None:
            self.origin = timestamp
            self._last_raw = timestamp
            return 0
        delta = (timestamp - self._last_raw) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        value = self._last + delta
        if value < 0:
            return None
        if delta > 0:
            self._last_raw = timestamp
            self._last = value
        return value


class _Part:
    __slots__ = ("data", "marker", "seq", "start", "timestamp")

    def __init__(self, seq: int, timestamp: int, start: bool | None, marker: bool, data: bytes):
        self.seq = seq
        self.timestamp = timestamp
        self.start = start
        self.marker = marker
        self.data = data


def _make_packet(kind: str, data: bytes, pts: int, keyframe: bool) -> av.Packet[Any]:
    packet = av.Packet(data)
    packet.pts = pts
    packet.time_base = _TIME_BASES[kind]
    packet.is_keyframe = keyframe
    return packet


class AudioFrames:
    """Every Opus packet is a frame: out on arrival, never behind one already out."""

    def __init__(self, timeline: Timeline, deliver: FrameSink) -> None:
        self._timeline = timeline
        self._deliver = deliver
        self._last_seq: int | None = None

    def add(self, packet: bytes, start: int, end: int, seq: int, timestamp: int) -> None:
        if self._last_seq is not None and not 0 < (seq - self._last_seq) & 0xFFFF < 0x8000:
            return  # duplicate or older than a packet already delivered
        pts = self._timeline.pts(timestamp)
        if pts is None or start >= end:
            return
        self._last_seq = seq
        self._deliver(_make_packet("audio", packet[start:end], pts, True))


class VideoFrames:
    """VP8 frames, complete and in order: a frame leaves when every packet from its first to its
    marker is in (waiting for retransmissions); one that cannot complete is given up, and frames
    resume at the next keyframe (``on_gap`` asks the publisher for one)."""

    def __init__(self, timeline: Timeline, deliver: FrameSink, on_gap: Callable[[], None]):
        self._timeline = timeline
        self._deliver = deliver
        self._on_gap = on_gap
        self._parts: dict[int, _Part] = {}
        self._next: int | None = None  # first packet of the next frame to deliver
        self._newest: int | None = None

    def add(
        self,
        packet: bytes,
        start: int,
        end: int,
        seq: int,
        timestamp: int,
        frame_start: bool | None,
    ) -> None:
        marker = bool(packet[1] & 0x80)
        try:
            data = packet[vp8_descriptor_end(packet, start, end) : end]
        except ValueError:
            data = b""  # padding-only or malformed: keeps its place in the sequence
        if self._next is None:
            if frame_start is not True:
                self._on_gap()  # decoding starts at a keyframe: ask for one (rate-limited)
                return
            self._next = seq
        if (seq - self._next) & 0xFFFF >= VIDEO_WINDOW:
            return  # older than what was delivered, or absurdly far ahead
        self._parts[seq] = _Part(seq, timestamp, frame_start, marker, data)
        if self._newest is None or 0 < (seq - self._newest) & 0xFFFF < 0x8000:
            self._newest = seq
        self._drain()

    def _drain(self) -> None:
        while self._next is not None:
            frame = self._complete_frame(self._next)
            if frame is None:
                if self._stalled():
                    self._skip_to_keyframe()
                    continue
                return
            first, parts = frame
            for part in parts:
                del self._parts[part.seq]
            self._next = (parts[-1].seq + 1) & 0xFFFF
            pts = self._timeline.pts(first.timestamp)
            if pts is not None:
                data = b"".join(part.data for part in parts)
                self._deliver(_make_packet("video", data, pts, first.start is True))

    def _complete_frame(self, seq: int) -> tuple[_Part, list[_Part]] | None:
        first = self._parts.get(seq)
        if first is None or first.start is None:
            return None
        parts = [first]
        while not parts[-1].marker:
            seq = (seq + 1) & 0xFFFF
            part = self._parts.get(seq)
            if part is None or part.timestamp != first.timestamp:
                return None
            parts.append(part)
        return first, parts

    def _stalled(self) -> bool:
        assert self._next is not None
        if self._newest is None:
            return False
        ahead = (self._newest - self._next) & 0xFFFF
        return GIVE_UP_AFTER < ahead < 0x8000

    def _skip_to_keyframe(self) -> None:
        """Give up the frame at ``_next``: drop what is held before the next keyframe's start."""
        keyframes = sorted(
            (seq - self._next) & 0xFFFF  # type: ignore[operator]
            for seq, part in self._parts.items()
            if part.start is True
        )
        if keyframes:
            self._next = (self._next + keyframes[0]) & 0xFFFF  # type: ignore[operator]
            for seq in list(self._parts):
                if (seq - self._next) & 0xFFFF >= VIDEO_WINDOW:
                    del self._parts[seq]
        else:
            self._parts.clear()
            self._next = None
            self._newest = None
        self._on_gap()
