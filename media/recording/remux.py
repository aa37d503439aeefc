"""Concatenates a participant's committed segments into one WebM by copying packets (no re-encode).

Segments already share one timeline (the recorder keeps timestamps increasing across them), so
packets are copied as they are, shifted so the file starts at 0.
"""

from __future__ import annotations

import fractions
import hashlib
from dataclasses import dataclass
from typing import Any, BinaryIO

import av
from av.container import OutputContainer

from media.recording.segment_writer import vp8_size
from media.recording.storage import RecordingStorage

_CHUNK = 1 << 20
MILLISECONDS = fractions.Fraction(1, 1000)


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
class FinalFile:
    name: str
    duration: float
    sha256: str
    bytes: int
    segments: int
    # Recording-timeline millisecond that file time 0 stands for.
    start_ms: int
    video_packets: int
    audio_packets: int


def _packets(storage: RecordingStorage, name: str) -> list[tuple[str, av.Packet[Any]]]:
    with storage.open_read(name) as file, av.open(file, "r") as container:
        result: list[tuple[str, av.Packet[Any]]] = []
        for packet in container.demux():
            if packet.pts is None or packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            result.append((packet.stream.type, packet))
        return result


def _first_size(segments: list[list[tuple[str, av.Packet[Any]]]]) -> tuple[int, int]:
    for packets in segments:
        for kind, packet in packets:
            if kind == "video" and (size := vp8_size(bytes(packet))) is not None:
                return size
    return 640, 480


def concatenate(storage: RecordingStorage, participant_id: str) -> FinalFile:
    names = storage.segments(participant_id)
    if not names:
        raise FileNotFoundError(f"no recorded segments for {participant_id!r}")
    # Segments are short (seconds): holding one participant's packets is a few MB per minute.
    segments = [_packets(storage, name) for name in names]
    start_ms = min(
        (
            int(packet.pts)
            for packets in segments
            for _, packet in packets
            if packet.pts is not None
        ),
        default=0,
    )
    handle = storage.open_final(participant_id)
    counts = {"video": 0, "audio": 0}
    end_ms = 0
    try:
        container, streams = open_webm(handle.file, _first_size(segments))
        last = {"video": -1, "audio": -1}
        for packets in segments:
            for kind, packet in packets:
                assert packet.pts is not None
                copy = av.Packet(bytes(packet))
                at = max(int(packet.pts) - start_ms, last[kind] + 1)
                copy.pts = copy.dts = at
                copy.time_base = MILLISECONDS
                copy.is_keyframe = packet.is_keyframe
                copy.stream = streams[kind]
                container.mux(copy)
                last[kind] = at
                counts[kind] += 1
                end_ms = max(end_ms, at + (20 if kind == "audio" else 0))
        container.close()
        size = handle.commit()
    except BaseException:
        handle.abort()
        raise
    digest = hashlib.sha256()
    with storage.open_read(handle.name) as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return FinalFile(
        name=handle.name,
        duration=end_ms / 1000,
        sha256=digest.hexdigest(),
        bytes=size,
        segments=len(names),
        start_ms=start_ms,
        video_packets=counts["video"],
        audio_packets=counts["audio"],
    )
