"""Cuts a clip out of a finished recording by copying packets (no decode, no re-encode).

A VP8 stream can only start at a keyframe, so the clip starts at the last video keyframe at or
before the asked start; ``lead_in_ms`` says how much earlier that is, and a player starts the
clip that far in (the family sees the chosen moment first). Browsers send keyframes rarely (on
request), so the lead-in can be long: docs/media.md has the figures measured on real recordings.

Runs in a worker thread (it reads the whole source once to find the keyframe, then copies);
it never touches a live session.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO

import av


class ClipError(Exception):
    """The recording cannot give that clip (no video, nothing in the range, no keyframe)."""


@dataclass(frozen=True)
class Clip:
    start_ms: int  # recording time the clip file starts at (a keyframe)
    end_ms: int
    lead_in_ms: int  # asked start minus start_ms
    video_packets: int
    audio_packets: int


def _ms(packet: av.Packet[Any]) -> int:
    assert packet.pts is not None
    return int(packet.pts * Fraction(packet.time_base) * 1000)


def keyframe_times(source: BinaryIO) -> list[int]:
    """Every video keyframe's time (ms) in a recording, in order."""
    source.seek(0)
    with av.open(source, "r") as container:
        if not container.streams.video:
            raise ClipError("the recording has no video")
        return [
            _ms(packet)
            for packet in container.demux(container.streams.video[0])
            if packet.pts is not None and packet.size and packet.is_keyframe
        ]


def cut_clip(source: BinaryIO, target: BinaryIO, start_ms: int, end_ms: int) -> Clip:
    if not 0 <= start_ms < end_ms:
        raise ClipError("the clip must end after it starts")
    keyframes = [t for t in keyframe_times(source) if t <= start_ms]
    if not keyframes:
        raise ClipError("no keyframe at or before the start")
    first = keyframes[-1]
    source.seek(0)
    counts = {"video": 0, "audio": 0}
    asked = 0  # video packets from the asked start on: none means the range is past the end
    with av.open(source, "r") as src, av.open(target, "w", format="webm") as out:
        streams = [s for s in (src.streams.video[:1] + src.streams.audio[:1])]
        mapped = {s.index: out.add_stream_from_template(s) for s in streams}
        for packet in src.demux(*streams):
            if packet.pts is None or not packet.size:
                continue
            at = _ms(packet)
            if at < first or at > end_ms:
                continue
            shift = int(Fraction(first, 1000) / Fraction(packet.time_base))
            packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
            kind = packet.stream.type
            asked += kind == "video" and at >= start_ms
            packet.stream = mapped[packet.stream.index]
            out.mux(packet)
            counts[kind] = counts.get(kind, 0) + 1
    if asked == 0:
        raise ClipError("nothing in that range")
    return Clip(first, end_ms, start_ms - first, counts["video"], counts["audio"])
