"""Media whose content can be checked after a trip through VP8/Opus: numbered frames, tones."""

from __future__ import annotations

import array
import asyncio
import fractions
import itertools
import math
import time

import av
from aiortc import MediaStreamError, MediaStreamTrack, VideoStreamTrack

WIDTH = 320
HEIGHT = 240
_COLS = 8
_ROWS = 2
_NUMBER_BITS = 12
_CHECK_BITS = _COLS * _ROWS - _NUMBER_BITS
MAX_FRAME_NUMBER = (1 << _NUMBER_BITS) - 1
_BLOCK_W = WIDTH // _COLS
_BLOCK_H = HEIGHT // _ROWS
_BRIGHT = 235
_DARK = 16
AUDIO_RATE = 48000
# 20 ms audio frames, as aiortc's own audio tracks and Opus encoder use.
AUDIO_PTIME = 0.020


def _checksum(number: int) -> int:
    return (number * 7 + 5) % (1 << _CHECK_BITS)


def _bits(number: int) -> list[int]:
    word = number | (_checksum(number) << _NUMBER_BITS)
    return [(word >> i) & 1 for i in range(_COLS * _ROWS)]


def pattern_frame(number: int) -> av.VideoFrame:
    """A frame showing ``number`` as 16 big black/white blocks (12 bits + 4 check bits)."""
    bits = _bits(number % (MAX_FRAME_NUMBER + 1))
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    rows = []
    for block_row in range(_ROWS):
        line = bytearray()
        for col in range(_COLS):
            value = _BRIGHT if bits[block_row * _COLS + col] else _DARK
            line += bytes([value]) * _BLOCK_W
        rows.append(bytes(line) * _BLOCK_H)
    frame.planes[0].update(b"".join(rows))
    chroma = bytes([128]) * frame.planes[1].buffer_size
    frame.planes[1].update(chroma)
    frame.planes[2].update(chroma)
    return frame


def decode_frame_number(frame: av.VideoFrame) -> int | None:
    """The number shown by a (decoded, possibly lossy) pattern frame, or None if unreadable."""
    if frame.width != WIDTH or frame.height != HEIGHT or frame.format.name != "yuv420p":
        frame = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
    plane = frame.planes[0]
    data = bytes(plane)
    stride = plane.line_size
    word = 0
    for index in range(_COLS * _ROWS):
        row, col = divmod(index, _COLS)
        cx = col * _BLOCK_W + _BLOCK_W // 2
        cy = row * _BLOCK_H + _BLOCK_H // 2
        total = 0
        for dy in range(-4, 4, 2):
            offset = (cy + dy) * stride + cx
            total += sum(data[offset - 4 : offset + 4])
        if total / 32 > 128:
            word |= 1 << index
    number = word & MAX_FRAME_NUMBER
    if word >> _NUMBER_BITS != _checksum(number):
        return None
    return number


# Like a capture device, a source read too late skips ahead instead of falling ever further
# behind: its timestamps stay close to real time (aiortc's sender reports pair each RTP
# timestamp with the time it was *sent*, so a lagging source would skew A/V sync). Seen on a
# shared 2-core machine: an unpaced tone fell 1-3 s behind within 10 s.
_MAX_LAG = 0.1


def _pace_or_skip(start: float, timestamp: int, step: int, rate: int) -> tuple[int, float]:
    """The next timestamp (``step`` after ``timestamp``, or later to catch up) and its wait."""
    timestamp += step
    lag = time.time() - (start + timestamp / rate)
    if lag > _MAX_LAG:
        timestamp += int(lag * rate / step) * step
    return timestamp, start + timestamp / rate - time.time()


class PatternVideoTrack(VideoStreamTrack):
    """30 fps frames numbered from 0 (see ``decode_frame_number``)."""

    def __init__(self) -> None:
        super().__init__()
        self.frames_sent = 0
        self._begin: float | None = None
        self._ts = 0
        # Capture wallclock claimed by each frame's timestamp (index = frame number).
        self.captured_at: list[float] = []

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._begin is None:
            self._begin = time.time()
        else:
            self._ts, wait = _pace_or_skip(self._begin, self._ts, 3000, 90000)
            await asyncio.sleep(wait)
        self.captured_at.append(self._begin + self._ts / 90000)
        frame = pattern_frame(self.frames_sent)
        frame.pts = self._ts
        frame.time_base = fractions.Fraction(1, 90000)
        self.frames_sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A continuous sine tone, 20 ms frames of 48 kHz mono s16.

    Setting ``frequency`` takes effect at the next frame; ``switches`` records the capture
    wallclock claimed by each frequency's first frame (A/V sync is measured against it).
    """

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self._amplitude = amplitude
        self._samples = int(AUDIO_PTIME * AUDIO_RATE)
        self._start: float | None = None
        self._timestamp = 0
        self.frames_sent = 0
        self.switches: list[tuple[float, float]] = []

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp, wait = _pace_or_skip(
                self._start, self._timestamp, self._samples, AUDIO_RATE
            )
            await asyncio.sleep(wait)
        if not self.switches or self.switches[-1][1] != self.frequency:
            self.switches.append((self._start + self._timestamp / AUDIO_RATE, self.frequency))
        peak = 32767 * self._amplitude
        step = 2 * math.pi * self.frequency / AUDIO_RATE
        samples = array.array(
            "h",
            (int(peak * math.sin(step * (self._timestamp + i))) for i in range(self._samples)),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(samples.tobytes())
        frame.pts = self._timestamp
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frames_sent += 1
        return frame


def estimate_tone(frame: av.AudioFrame) -> float:
    """Dominant frequency of a decoded audio frame by zero crossings of its first channel."""
    if frame.format.name != "s16" or frame.format.is_planar:
        frame = av.AudioResampler(format="s16", layout=frame.layout.name).resample(frame)[0]
    samples = array.array("h", bytes(frame.planes[0]))
    channels = len(frame.layout.channels)
    first = samples[::channels][: frame.samples]
    crossings = sum(1 for a, b in itertools.pairwise(first) if (a < 0) != (b < 0))
    duration = frame.samples / frame.sample_rate
    return crossings / 2 / duration if duration else 0.0
