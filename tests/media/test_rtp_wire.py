"""The byte-level pieces of RTP-level forwarding, checked against aiortc's own parsers."""

from __future__ import annotations

from typing import Any

import av
import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.rtp.feedback import NackList, ReceptionStats
from media.rtp.frames import GIVE_UP_AFTER, AudioFrames, Timeline, VideoFrames
from media.rtp.wire import (
    FIXED_HEADER,
    HeaderWriter,
    header_length,
    payload_end,
    rtp_ssrc,
    vp8_frame_start,
)

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
AST = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def extension_map() -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri=MID),
                RTCRtpHeaderExtensionParameters(id=3, uri=AST),
            ]
        )
    )
    return extensions


@pytest.mark.parametrize("mid", ["0", "3", "video-12"])
def test_written_headers_parse_back_with_aiortc(mid: str) -> None:
    writer = HeaderWriter(0xDEADBEEF, 97, mid, 1, 3)
    now = 1_700_000_000.25
    publisher = FIXED_HEADER.pack(0x80, 0x80 | 96, 7, 8, 9) + b"payload"
    data = writer.rewrite(publisher, 12, 513, 123456, now)
    parsed = RtpPacket.parse(data, extension_map())
    assert parsed.extensions.mid == mid
    assert parsed.extensions.abs_send_time == int((now + 2_208_988_800) * 262_144) & 0xFFFFFF
    assert (parsed.payload_type, parsed.marker, parsed.sequence_number) == (97, 1, 513)
    assert (parsed.timestamp, parsed.ssrc, parsed.payload) == (123456, 0xDEADBEEF, b"payload")
    assert header_length(data) == writer.size == len(data) - len(b"payload")


@pytest.mark.parametrize(("mid", "abs_send_time_id"), [("4", None), (None, 3), (None, None)])
def test_written_headers_without_mid_or_send_time(
    mid: str | None, abs_send_time_id: int | None
) -> None:
    writer = HeaderWriter(5, 111, mid, 1 if mid else None, abs_send_time_id)
    # Padding bit and padding kept, marker bit cleared as in the publisher's packet.
    publisher = FIXED_HEADER.pack(0xA0, 96, 7, 8, 9) + b"opus\x00\x02"
    data = writer.rewrite(publisher, 12, 1, 960, 1_700_000_000.0)
    parsed = RtpPacket.parse(data, extension_map())
    assert parsed.extensions.mid == mid
    assert (parsed.extensions.abs_send_time is not None) == (abs_send_time_id is not None)
    assert (parsed.payload_type, parsed.marker, parsed.ssrc) == (111, 0, 5)
    assert (parsed.padding_size, parsed.payload) == (2, b"opus")
    assert header_length(data) == writer.size
    assert data[0] & 0x10 == (0 if mid is None and abs_send_time_id is None else 0x10)


def test_header_length_counts_csrcs_and_extension_and_refuses_truncation() -> None:
    packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"abc")
    packet.csrc = [7, 8]
    packet.extensions.mid = "1"
    data = packet.serialize(extension_map())
    assert data[header_length(data) :] == b"abc"
    with pytest.raises(ValueError, match="truncated"):
        header_length(data[:14])
    assert rtp_ssrc(data) == 3
    assert rtp_ssrc(bytes([0x80, 200]) + b"\x00" * 10) is None  # an RTCP sender report
    assert rtp_ssrc(bytes([0x16, 0xFE]) + b"\x00" * 10) is None  # DTLS
    assert rtp_ssrc(data[:11]) is None
    padded = bytearray(data + b"\x00\x00\x03")
    padded[0] |= 0x20
    assert padded[header_length(bytes(padded)) : payload_end(bytes(padded))] == b"abc"


@pytest.mark.parametrize("picture_id", [None, 17, 300])
def test_vp8_frame_starts_and_keyframes(picture_id: int | None) -> None:
    def payload(start: bool, partition: int, first_byte: int) -> bytes:
        descriptor = VpxPayloadDescriptor(
            partition_start=int(start), partition_id=partition, picture_id=picture_id
        )
        return bytes(descriptor) + bytes([first_byte, 0x9D, 0x01, 0x2A])

    key = payload(True, 0, 0x90)  # frame tag bit 0 = 0: keyframe
    delta = payload(True, 0, 0x91)
    middle = payload(False, 0, 0x90)
    later_partition = payload(True, 1, 0x90)
    prefix = b"\x00" * 12
    assert vp8_frame_start(prefix + key, 12, 12 + len(key)) is True
    assert vp8_frame_start(prefix + delta, 12, 12 + len(delta)) is False
    assert vp8_frame_start(prefix + middle, 12, 12 + len(middle)) is None
    assert vp8_frame_start(prefix + later_partition, 12, 12 + len(later_partition)) is None
    assert vp8_frame_start(prefix + key[:1], 12, 13) is None


def test_nack_list_finds_gaps_and_forgets_what_arrives() -> None:
    nacks = NackList()
    assert not nacks.add(100)
    assert not nacks.add(101)
    assert nacks.add(105)
    assert nacks.missing == {102, 103, 104}
    assert not nacks.add(103)  # retransmitted
    assert nacks.missing == {102, 104}
    assert not nacks.add(2000)  # a restart, not a loss to repair
    assert nacks.missing == set()
    assert nacks.add(65535 - 1) is False  # far behind: treated as old
    nacks = NackList()
    nacks.add(65534)
    assert nacks.add(1)  # across the wrap
    assert nacks.missing == {65535, 0}


def test_reception_stats_report_loss_per_interval() -> None:
    stats = ReceptionStats(90000)
    for seq in range(65530, 65536):
        stats.add(seq, seq * 3000, seq / 30)
    for seq in (0, 1, 3):  # 2 lost, across the wrap
        stats.add(seq, seq * 3000, seq / 30)
    report = stats.report()
    assert report is not None
    assert report.packets_lost == 1
    assert report.highest_sequence == 0x10000 + 3
    assert report.fraction_lost == (1 << 8) // 10
    for seq in range(4, 14):
        stats.add(seq, seq * 3000, seq / 30)
    second = stats.report()
    assert second is not None
    assert second.fraction_lost == 0
    assert second.packets_lost == 1


def vp8_packet(seq: int, ts: int, *, start: bool, key: bool, marker: bool, body: bytes) -> bytes:
    header = FIXED_HEADER.pack(0x80, (0x80 if marker else 0) | 97, seq, ts, 1)
    descriptor = bytes([0x10 if start else 0x00])
    payload = bytes([0x90 if key else 0x91]) + body if start else body
    return header + descriptor + payload


def feed_video(frames: VideoFrames, packet: bytes) -> None:
    seq = int.from_bytes(packet[2:4], "big")
    ts = int.from_bytes(packet[4:8], "big")
    start = vp8_frame_start(packet, 12, len(packet))
    frames.add(packet, 12, len(packet), seq, ts, start)


def test_video_frames_wait_for_a_retransmission_and_leave_in_order() -> None:
    out: list[av.Packet[Any]] = []
    gaps: list[int] = []
    timeline = Timeline()
    timeline.start(9000)
    frames = VideoFrames(timeline, out.append, lambda: gaps.append(1))
    key = [
        vp8_packet(10, 9000, start=True, key=True, marker=False, body=b"A"),
        vp8_packet(11, 9000, start=False, key=True, marker=True, body=b"B"),
    ]
    delta = [
        vp8_packet(12, 12000, start=True, key=False, marker=False, body=b"C"),
        vp8_packet(13, 12000, start=False, key=False, marker=True, body=b"D"),
    ]
    feed_video(frames, key[0])
    feed_video(frames, delta[0])
    feed_video(frames, delta[1])
    assert out == []  # the keyframe is missing a packet: nothing leaves before it
    feed_video(frames, key[1])  # the retransmission
    assert [bytes(p) for p in out] == [b"\x90AB", b"\x91CD"]
    assert [p.pts for p in out] == [0, 3000]
    assert [p.is_keyframe for p in out] == [True, False]
    assert gaps == []


def test_video_frames_give_up_a_lost_frame_and_resume_at_a_keyframe() -> None:
    out: list[av.Packet[Any]] = []
    gaps: list[int] = []
    timeline = Timeline()
    timeline.start(0)
    frames = VideoFrames(timeline, out.append, lambda: gaps.append(1))
    feed_video(frames, vp8_packet(1, 0, start=True, key=True, marker=True, body=b"K"))
    # Packet 2 never comes; deltas pile up behind it, then a keyframe.
    for seq in range(3, 3 + GIVE_UP_AFTER):
        feed_video(
            frames, vp8_packet(seq, seq * 3000, start=True, key=False, marker=True, body=b"d")
        )
    key_seq = 3 + GIVE_UP_AFTER
    feed_video(
        frames, vp8_packet(key_seq, key_seq * 3000, start=True, key=True, marker=True, body=b"K")
    )
    assert len(out) == 2
    assert out[1].is_keyframe
    assert out[1].pts == key_seq * 3000
    assert gaps  # the publisher was asked for the keyframe


def test_audio_frames_skip_duplicates_and_late_packets() -> None:
    out: list[av.Packet[Any]] = []
    timeline = Timeline()
    timeline.start(960)
    frames = AudioFrames(timeline, out.append)
    for seq, ts in ((1, 960), (3, 2880), (2, 1920), (3, 2880), (4, 3840)):
        frames.add(FIXED_HEADER.pack(0x80, 111, seq, ts, 1) + b"op", 12, 14, seq, ts)
    assert [p.pts for p in out] == [0, 1920, 2880]
    assert all(bytes(p) == b"op" for p in out)
