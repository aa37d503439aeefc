"""Clips cut from a recording by copying packets: they start at the keyframe at or before the
asked start, keep every packet up to the end, decode cleanly, and refuse what cannot be cut."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from media.recording.clip import ClipError, cut_clip, keyframe_times

FPS = 15


def recording(path: Path, seconds: int, keyframe_every: int) -> Path:
    """A VP8 + Opus WebM whose keyframes come every ``keyframe_every`` frames (forced)."""
    with av.open(str(path), mode="w", format="webm") as container:
        video = container.add_stream("libvpx", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.codec_context.gop_size = 10_000  # only the keyframes forced below
        # Realtime, no hidden alt-ref frames: how browsers encode VP8 for a call.
        video.options = {"deadline": "realtime", "auto-alt-ref": "0", "lag-in-frames": "0"}
        audio = container.add_stream("libopus", rate=48000, layout="mono")
        for i in range(seconds * FPS):
            frame = av.VideoFrame(160, 120, "rgb24")
            plane = frame.planes[0]
            # A gentle change: no scene cut for the encoder to start a keyframe of its own at.
            plane.update(bytes([100 + i % 8, 90, 160]) * (plane.line_size // 3 * 120))
            out = frame.reformat(format="yuv420p")
            out.pts = i
            out.pict_type = (
                av.video.frame.PictureType.I
                if i % keyframe_every == 0
                else av.video.frame.PictureType.NONE
            )
            for packet in video.encode(out):
                container.mux(packet)
        for _ in range(seconds * 50):
            silence = av.AudioFrame(format="s16", layout="mono", samples=960)
            silence.planes[0].update(bytes(silence.planes[0].buffer_size))
            silence.sample_rate = 48000
            for packet in audio.encode(silence):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


def test_a_clip_starts_at_the_keyframe_before_and_decodes(tmp_path: Path) -> None:
    source = recording(tmp_path / "rec.webm", seconds=12, keyframe_every=4 * FPS)
    with source.open("rb") as src:
        keyframes = keyframe_times(src)
        assert {0, 4000, 8000} <= set(keyframes)  # forced; the encoder may add its own
        target = io.BytesIO()
        clip = cut_clip(src, target, 5500, 9000)
    expected = max(k for k in keyframes if k <= 5500)
    assert (clip.start_ms, clip.lead_in_ms, clip.end_ms) == (expected, 5500 - expected, 9000)
    target.seek(0)
    with av.open(target, "r") as cut:
        first = next(cut.demux(cut.streams.video[0]))
        assert first.is_keyframe
        assert first.pts == 0
    target.seek(0)
    with av.open(target, "r") as cut:
        frames = list(cut.decode(video=0))
    # Every frame from the keyframe to 9.000 s inclusive, at 15 frames a second.
    assert len(frames) == clip.video_packets
    assert abs(len(frames) - ((9000 - expected) * FPS / 1000 + 1)) <= 1
    assert clip.audio_packets > 0


def test_what_cannot_be_cut_is_refused(tmp_path: Path) -> None:
    source = recording(tmp_path / "rec.webm", seconds=3, keyframe_every=FPS)
    with source.open("rb") as src:
        with pytest.raises(ClipError, match="end after"):
            cut_clip(src, io.BytesIO(), 2000, 2000)
        with pytest.raises(ClipError, match="nothing in that range"):
            cut_clip(src, io.BytesIO(), 10_000, 12_000)
