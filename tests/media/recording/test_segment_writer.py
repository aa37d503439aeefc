from __future__ import annotations

import io
from typing import Any

import av

from media.recording.segment_writer import WebmWriter


def packet(data: bytes, keyframe: bool) -> av.Packet[Any]:
    result = av.Packet(data)
    result.is_keyframe = keyframe
    return result


# (kind, ms, keyframe): audio a little before the video keyframe that starts a cluster, a
# cluster that runs past a second, and a jump past the 16-bit block offset (~33 s).
WRITES = [
    ("audio", 980, True),
    ("video", 1000, True),
    ("audio", 990, True),
    ("video", 1033, False),
    ("audio", 1010, True),
    ("video", 2100, False),
    ("audio", 2120, True),
    ("video", 40000, False),
    ("video", 40033, True),
    ("audio", 40020, True),
]


def write_all(writer: WebmWriter) -> list[tuple[str, int, bool, bytes]]:
    sent = []
    for number, (kind, at_ms, keyframe) in enumerate(WRITES):
        # A VP8 frame tag's lowest bit is 0 for a keyframe (demuxers look).
        tag = 1 - keyframe if kind == "video" else 0
        data = bytes([tag, number]) * (2500 if kind == "video" else 45)
        writer.write(kind, packet(data, keyframe), at_ms)
        sent.append((kind, at_ms, keyframe, data))
    return sent


def read_back(data: bytes) -> tuple[list[tuple[str, int, bool, bytes]], Any]:
    with av.open(io.BytesIO(data), "r") as container:
        streams = [(s.type, s.codec_context.name) for s in container.streams]
        got: list[tuple[str, int, bool, bytes]] = [
            (str(p.stream.type), int(p.pts), p.is_keyframe, bytes(p))
            for p in container.demux()
            if p.pts is not None and p.size
        ]
        return got, (streams, container.duration)


def test_blocks_come_back_as_written_with_their_times_and_keyframe_flags() -> None:
    file = io.BytesIO()
    writer = WebmWriter(file, (320, 240))
    sent = write_all(writer)
    writer.close(40033)

    got, (streams, duration) = read_back(file.getvalue())
    assert streams == [("video", "vp8"), ("audio", "opus")]
    assert got == sent
    assert duration == 40_033_000


def test_a_file_never_closed_reads_up_to_its_last_complete_cluster() -> None:
    file = io.BytesIO()
    writer = WebmWriter(file, (320, 240))
    sent = write_all(writer)
    # Killed before close: the open cluster (from the last keyframe on) was never written.
    got, _ = read_back(file.getvalue())
    assert got == sent[: WRITES.index(("video", 40033, True))]
