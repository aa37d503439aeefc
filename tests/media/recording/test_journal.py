"""The recording journal's format, and recordings built from journals of RTP packets."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtp import RtpPacket

from media.recording import journal, replay
from media.recording.storage import LocalDirectoryStorage
from media.testing.recording import decode_recording
from tests.media.recording.test_recorder_overflow import KEYFRAMES, encode_pattern


def test_records_read_back_and_a_torn_tail_is_left_out() -> None:
    written = [
        journal.control(journal.START, 1700000000.25),
        journal.rtp("video", 0, 1700000000.5, 65535, b"\x80\x60rtp-packet"),
        journal.frame("audio", 1, 1700000000.75, -960, True, b"opus"),
        journal.report("video", 0, 1700000001.0, 0xFFFFFFFF, None, 1699999999.5),
        journal.report("audio", 1, 1700000001.0, 7, 123, 1699999999.5),
        journal.control(journal.GAP, 0.0),
        journal.control(journal.PAUSE, 2.5),
        journal.control(journal.RESUME, 4.0),
        journal.control(journal.STOP, 9.0),
    ]
    whole = journal.MAGIC + b"".join(written)
    # A crash mid-append: the last record is cut short, at every possible byte.
    for cut in range(1, len(written[-1])):
        records = list(journal.read(io.BytesIO(whole[:-cut])))
        assert len(records) == len(written) - 1
    records = list(journal.read(io.BytesIO(whole)))
    assert [r.type for r in records] == [
        journal.START,
        journal.RTP,
        journal.FRAME,
        journal.REPORT,
        journal.REPORT,
        journal.GAP,
        journal.PAUSE,
        journal.RESUME,
        journal.STOP,
    ]
    start, rtp, frame, report, origin_report, _, pause, _, _ = records
    assert start.time == 1700000000.25
    assert (rtp.kind, rtp.source, rtp.time, rtp.seq, rtp.data) == (
        "video",
        0,
        1700000000.5,
        65535,
        b"\x80\x60rtp-packet",
    )
    assert (frame.kind, frame.source, frame.pts, frame.keyframe, frame.data) == (
        "audio",
        1,
        -960,
        True,
        b"opus",
    )
    assert (report.rtp_timestamp, report.rtp_origin, report.wallclock) == (
        0xFFFFFFFF,
        None,
        1699999999.5,
    )
    assert origin_report.rtp_origin == 123
    assert pause.time == 2.5


def test_a_file_that_is_not_a_journal_is_refused() -> None:
    with pytest.raises(ValueError, match="not a recording journal"):
        list(journal.read(io.BytesIO(b"\x1a\x45\xdf\xa3 a webm file")))


def rtp_packets(frame: bytes, number: int, seq: int, chunk: int = 40) -> list[bytes]:
    """A VP8 frame as RTP packets of ``chunk`` payload bytes (a small MTU: several each)."""
    packets = []
    pieces = [frame[i : i + chunk] for i in range(0, len(frame), chunk)]
    for index, piece in enumerate(pieces):
        descriptor = VpxPayloadDescriptor(
            partition_start=int(index == 0), partition_id=0, picture_id=number
        )
        packet = RtpPacket(
            payload_type=96,
            marker=int(index == len(pieces) - 1),
            sequence_number=(seq + index) & 0xFFFF,
            timestamp=(4_000_000_000 + number * 3000) & 0xFFFFFFFF,  # wraps during the clip
            ssrc=1234,
            payload=bytes(descriptor) + piece,
        )
        packets.append(packet.serialize())
    return packets


def test_a_journal_of_rtp_packets_builds_the_frames_in_order(tmp_path: Path) -> None:
    """Reordered packets and a late retransmission are put back in place; a packet never
    repaired costs the frames up to the next keyframe, not the rest of the recording."""
    frames = encode_pattern(90)
    by_frame: list[list[bytes]] = []
    seq = 65500  # wraps during the clip
    for number, frame in enumerate(frames):
        by_frame.append(rtp_packets(frame, number, seq))
        seq += len(by_frame[-1])
    assert all(len(packets) >= 2 for packets in by_frame)

    origin = time.time()
    records = [journal.control(journal.START, origin)]
    late: list[bytes] = []
    for number, packets in enumerate(by_frame):
        arrival = origin + 0.1 + number / 30
        if number == 5:
            packets = packets[::-1]  # reordered on the way
        if number == 10:
            late.append(packets.pop(0))  # lost, retransmitted three frames later
        if number == 13:
            packets = packets + late
        if number == 30:
            packets = packets[1:]  # lost for good
        for packet in packets:
            seq = int.from_bytes(packet[2:4], "big")
            records.append(journal.rtp("video", 0, arrival, seq, packet))
    records.append(journal.control(journal.STOP, 3.5))
    storage = LocalDirectoryStorage(tmp_path)
    with storage.open_journal("alice") as file:
        file.write(b"".join(records))

    final = replay.salvage(storage, "alice")

    decoded = decode_recording(storage.path_of(final.name))
    assert decoded.video_unreadable == 0
    assert [n for _, n in decoded.video] == [*range(30), *range(KEYFRAMES[1], 90)]
    # Timed by arrival (no sender reports): 30 fps; the gap stays a gap in the file (frames
    # after it leave once the lost packet is given up, so they are timed a little later).
    times = [at for at, _ in decoded.video]
    assert times[29] - times[0] == pytest.approx(29 / 30, abs=0.01)
    assert times[30] - times[29] >= (KEYFRAMES[1] - 29) / 30 - 0.01
