"""Reading a recording back for tests: pattern numbers and tones with their times in the file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av

from media.testing.pattern import decode_frame_number, estimate_tone


@dataclass
class Decoded:
    # (seconds in the file, pattern number) per readable video frame, in decoding order.
    video: list[tuple[float, int]] = field(default_factory=list)
    video_frames: int = 0
    video_unreadable: int = 0
    # (seconds in the file, estimated frequency) per decoded audio frame.
    audio: list[tuple[float, float]] = field(default_factory=list)
    duration: float | None = None


def decode_recording(path: str | os.PathLike[str]) -> Decoded:
    """Decode every frame; raises on any decoding error (a damaged segment or file)."""
    result = Decoded()
    with av.open(os.fspath(path), "r") as container:
        if container.duration is not None:
            result.duration = container.duration / 1_000_000
        for frame in container.decode(*container.streams):
            assert frame.time is not None, "frame without a timestamp"
            if isinstance(frame, av.VideoFrame):
                result.video_frames += 1
                number = decode_frame_number(frame)
                if number is None:
                    result.video_unreadable += 1
                else:
                    result.video.append((frame.time, number))
            elif isinstance(frame, av.AudioFrame):
                result.audio.append((frame.time, estimate_tone(frame)))
    return result


def first_time_near(
    samples: list[tuple[float, float]], frequency: float, after: float = -1.0
) -> float | None:
    """Time of the first audio frame at ``frequency`` (within 10%) later than ``after``."""
    for at, tone in samples:
        if at > after and abs(tone - frequency) < frequency * 0.1:
            return at
    return None
