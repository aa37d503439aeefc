"""Pre-encoded media for the load generator, and how a received frame is recognised.

Participants replay a clip encoded once (VP8 640x480@30 ~1 Mbps, Opus 20 ms) as ``av.Packet``s:
aiortc's sender packetizes packets without encoding, so the load generator spends its CPU on the
network, not on libvpx. The forwarding relay hands encoded frames on byte for byte, so a received
video frame is identified by its bytes alone: every frame of the clip is distinct, and the
sender's log says which sequence number last carried that clip position, and when.
"""

from __future__ import annotations

import asyncio
import fractions
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamError, MediaStreamTrack
from av.video.frame import PictureType

FPS = 30
WIDTH = 640
HEIGHT = 480
VIDEO_BITRATE = 1_000_000
CLIP_SECONDS = 5
VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000
AUDIO_SAMPLES = 960  # 20 ms, what browsers send
_MAGIC = b"TBCLIP1\n"
# A publisher answers a burst of PLIs (the relay merges them per 0.5 s) with one restart.
_KEYFRAME_INTERVAL = 0.5
_VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
_AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_CLOCK)


@dataclass(frozen=True)
class Clip:
    """Encoded frames; ``video[0]`` is the only keyframe (VP8 decodes from there on)."""

    video: tuple[bytes, ...]
    audio: tuple[bytes, ...]

    def video_index(self) -> dict[bytes, int]:
        return {data: i for i, data in enumerate(self.video)}


def _encode_video(seconds: int) -> list[bytes]:
    source = av.open(f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}", "r", "lavfi")
    encoder: Any = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.bit_rate = VIDEO_BITRATE
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.framerate = fractions.Fraction(FPS, 1)
    # One keyframe, at the start: a keyframe request restarts the clip (see ClipVideoTrack).
    encoder.gop_size = 1 << 20
    # lag-in-frames 0: one packet per frame, no hidden alt-ref frames, like a real-time sender.
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    try:
        for i, frame in enumerate(source.decode(video=0)):
            frame.pts, frame.time_base = i, fractions.Fraction(1, FPS)
            # lavfi marks its frames as I-frames, which would make every one a keyframe.
            frame.pict_type = PictureType.NONE
            out += [bytes(p) for p in encoder.encode(frame)]
        out += [bytes(p) for p in encoder.encode(None)]
    finally:
        source.close()
    return out


def _encode_audio(seconds: int) -> list[bytes]:
    spec = f"sine=frequency=440:sample_rate={AUDIO_CLOCK}:samples_per_frame={AUDIO_SAMPLES}"
    source = av.open(f"{spec}:duration={seconds}", "r", "lavfi")
    encoder: Any = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = AUDIO_CLOCK, "mono", "s16"
    encoder.bit_rate = 32000
    out: list[bytes] = []
    try:
        for frame in source.decode(audio=0):
            frame.pts = None
            out += [bytes(p) for p in encoder.encode(frame)]
        out += [bytes(p) for p in encoder.encode(None)]
    finally:
        source.close()
    return out


def _dump(clip: Clip) -> bytes:
    parts = [_MAGIC, struct.pack("!II", len(clip.video), len(clip.audio))]
    for data in (*clip.video, *clip.audio):
        parts += [struct.pack("!I", len(data)), data]
    return b"".join(parts)


def _load(blob: bytes) -> Clip:
    if not blob.startswith(_MAGIC):
        raise ValueError("not a clip file")
    offset = len(_MAGIC)
    n_video, n_audio = struct.unpack_from("!II", blob, offset)
    offset += 8
    frames: list[bytes] = []
    for _ in range(n_video + n_audio):
        (size,) = struct.unpack_from("!I", blob, offset)
        frames.append(blob[offset + 4 : offset + 4 + size])
        offset += 4 + size
    return Clip(tuple(frames[:n_video]), tuple(frames[n_video:]))


def load_clip(cache_dir: Path | None = None) -> Clip:
    """The benchmark clip, encoded once per machine (libvpx takes ~10 s for it here) and cached."""
    directory = cache_dir or Path(tempfile.gettempdir())
    path = directory / f"tandem-bench-clip-{WIDTH}x{HEIGHT}-{VIDEO_BITRATE}-{CLIP_SECONDS}s.bin"
    if path.exists():
        try:
            return _load(path.read_bytes())
        except (ValueError, struct.error):
            pass  # a torn or foreign file: encode again below
    clip = Clip(tuple(_encode_video(CLIP_SECONDS)), tuple(_encode_audio(CLIP_SECONDS)))
    if len(set(clip.video)) != len(clip.video):
        raise RuntimeError("clip frames are not distinct: received frames could not be told apart")
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_dump(clip))
    tmp.replace(path)
    return clip


@dataclass
class SendLog:
    """What one publisher's video track sent: send time per sequence number."""

    sent_at: list[float] = field(default_factory=list)
    # Clip position -> the latest sequence number that carried it. A position comes round again
    # only after CLIP_SECONDS, far longer than any delivery delay worth counting.
    last_seq_at: dict[int, int] = field(default_factory=dict)

    def record(self, index: int, at: float) -> int:
        seq = len(self.sent_at)
        self.sent_at.append(at)
        self.last_seq_at[index] = seq
        return seq

    def sent_between(self, start: float, end: float) -> list[int]:
        return [seq for seq, at in enumerate(self.sent_at) if start <= at < end]


class _PacedTrack(MediaStreamTrack):
    """Hands out one frame per period on the wall clock, like a camera or a microphone."""

    def __init__(self, period: float) -> None:
        super().__init__()
        self._period = period
        self._start: float | None = None
        self._count = 0
        # How late each frame left against its schedule: a late load generator, not the relay.
        self.lateness: list[float] = []

    async def _wait_turn(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self._period
        if due > now:
            await asyncio.sleep(due - now)
        self.lateness.append(time.monotonic() - due)
        count = self._count
        self._count += 1
        return count


class ClipVideoTrack(_PacedTrack):
    kind = "video"

    def __init__(self, clip: Clip, log: SendLog) -> None:
        super().__init__(1 / FPS)
        self._clip = clip
        self.log = log
        self._index = 0
        self._restart = False
        self._last_restart = -_KEYFRAME_INTERVAL

    def request_keyframe(self) -> None:
        # The clip has one keyframe, at position 0: starting over is a valid VP8 stream. A
        # request soon after a restart waits for the interval to pass; dropped, the subscriber
        # it was for would wait for the relay's next request (like a browser, answer them all).
        self._restart = True

    async def recv(self) -> av.Packet[Any]:
        count = await self._wait_turn()
        now = time.monotonic()
        if self._restart and now - self._last_restart >= _KEYFRAME_INTERVAL:
            self._index, self._restart, self._last_restart = 0, False, now
        index = self._index
        self._index = (index + 1) % len(self._clip.video)
        packet = av.Packet(self._clip.video[index])
        packet.pts = count * (VIDEO_CLOCK // FPS)
        packet.time_base = _VIDEO_TIME_BASE
        self.log.record(index, time.monotonic())
        return packet


class ClipAudioTrack(_PacedTrack):
    kind = "audio"

    def __init__(self, clip: Clip) -> None:
        super().__init__(AUDIO_SAMPLES / AUDIO_CLOCK)
        self._clip = clip
        self.sent_at: list[float] = []

    async def recv(self) -> av.Packet[Any]:
        count = await self._wait_turn()
        packet = av.Packet(self._clip.audio[count % len(self._clip.audio)])
        packet.pts = count * AUDIO_SAMPLES
        packet.time_base = _AUDIO_TIME_BASE
        self.sent_at.append(time.monotonic())
        return packet
