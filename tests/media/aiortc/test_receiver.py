"""Pins what media/aiortc/receiver.py relies on in aiortc's RTCRtpReceiver."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, rtcdtlstransport
from aiortc import rtcrtpreceiver as receiver_module
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    unpack_remb_fci,
)
from mangled import mangled

from media.aiortc import (
    forget_receive_statistics,
    on_sender_report,
    receiver_report,
    remb,
    request_keyframe,
    router_ssrcs,
    rtcp_ssrc,
    rtp_timestamp_origin,
    rtx_ssrcs,
)


def test_rtcp_shapes() -> None:
    for name in ("_send_rtcp_pli", "_handle_rtcp_packet", "getSynchronizationSources"):
        assert callable(getattr(RTCRtpReceiver, name))
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) == [
        "self",
        "media_ssrc",
    ]
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_nack).parameters) == [
        "self",
        "media_ssrc",
        "lost",
    ]
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp).parameters) == ["self", "packet"]


def test_timestamp_mapper_keeps_its_origin() -> None:
    # Encoded frames come with wrap-free timestamps from 0; recorders need the origin.
    assert "self.__timestamp_mapper.map" in inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    mapper = receiver_module.TimestampMapper()
    assert mapper._origin is None
    mapper.map(1234)
    assert mapper._origin == 1234
    assert "self.__timestamp_mapper = TimestampMapper()" in inspect.getsource(
        RTCRtpReceiver.__init__
    )


def test_the_transport_routes_ssrcs_to_receivers() -> None:
    assert "self.ssrc_table: dict[int, RtpReceiver]" in inspect.getsource(
        rtcdtlstransport.RtpRouter
    )


async def test_receiver_privates_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        receiver: RTCRtpReceiver = transceiver.receiver
        assert isinstance(rtx_ssrcs(receiver), dict)
        assert rtcp_ssrc(receiver) == transceiver.sender._ssrc
        assert isinstance(mangled(receiver, RTCRtpReceiver, "remote_streams"), dict)
        forget_receive_statistics(receiver, 1234)
        assert router_ssrcs(receiver) == set()
        for name in ("_send_rtcp", "_send_rtcp_nack", "_send_rtcp_pli"):
            assert inspect.iscoroutinefunction(getattr(receiver, name))
        assert rtp_timestamp_origin(receiver) is None  # no media yet
        assert request_keyframe(receiver) is False  # nobody to ask yet
    finally:
        await pc.close()


async def test_sender_reports_are_observed_and_still_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pc = RTCPeerConnection()
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        handled: list[Any] = []

        async def stock(packet: Any) -> None:
            handled.append(packet)

        monkeypatch.setattr(receiver, "_handle_rtcp_packet", stock)  # aiortc's, stood in for
        seen: list[RtcpSrPacket] = []
        on_sender_report(receiver, seen.append)
        report = RtcpSrPacket(
            ssrc=1,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=1 << 32, rtp_timestamp=90000, packet_count=3, octet_count=300
            ),
        )
        other = RtcpRrPacket(ssrc=1)
        await receiver._handle_rtcp_packet(report)
        await receiver._handle_rtcp_packet(other)
        assert seen == [report]
        assert handled == [report, other]
    finally:
        await pc.close()


def test_reports_and_estimates_are_what_aiortc_serializes() -> None:
    report = receiver_report(
        11, 22, fraction_lost=3, packets_lost=4, highest_sequence=5, jitter=6, lsr=7, dlsr=8
    )
    (parsed,) = RtcpPacket.parse(bytes(report))
    assert isinstance(parsed, RtcpRrPacket)
    assert parsed.ssrc == 11
    (block,) = parsed.reports
    assert (block.ssrc, block.fraction_lost, block.packets_lost) == (22, 3, 4)
    assert (block.highest_sequence, block.jitter, block.lsr, block.dlsr) == (5, 6, 7, 8)
    (estimate,) = RtcpPacket.parse(bytes(remb(11, 500_000, [22])))
    assert isinstance(estimate, RtcpPsfbPacket)
    assert estimate.fmt == RTCP_PSFB_APP
    assert estimate.ssrc == 11
    bitrate, ssrcs = unpack_remb_fci(estimate.fci)
    assert ssrcs == [22]
    assert abs(bitrate - 500_000) < 500_000 * 0.01  # a mantissa and an exponent
