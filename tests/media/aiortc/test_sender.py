"""Pins what media/aiortc/sender.py relies on in aiortc's RTCRtpSender, and checks its parts."""

from __future__ import annotations

import fractions
import inspect

import av
from aiortc import RTCPeerConnection, RTCRtpSender, rtcpeerconnection, rtcrtpsender
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.aiortc import (
    install_counting_encoder,
    on_bandwidth_estimate,
    on_keyframe_request,
    on_retransmit_request,
    packetizer,
    record_sent,
    send_parameters,
    set_sender_ids,
)
from media.testing.pattern import pattern_frame

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


def _sender() -> RTCRtpSender:
    pc = RTCPeerConnection()
    return pc.addTransceiver("video").sender


async def test_sender_shapes() -> None:
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "if self.__encoder is None:" in source
    assert "self.__encoder.pack(data)" in source
    assert "isinstance(data, Frame)" in source
    assert "_send_keyframe()" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "MediaStreamError" in inspect.getsource(RTCRtpSender._run_rtp)
    assert "_RTCRtpSender__encoder" in vars(_sender())
    sender = _sender()
    assert {"_stream_id", "_track_id", "_ssrc"} <= set(vars(sender))
    media = inspect.getsource(rtcpeerconnection.create_media_description_for_transceiver)
    assert "transceiver.sender._stream_id" in media
    assert "transceiver.sender._track_id" in media


def test_sender_reads_what_the_forwarding_path_writes() -> None:
    rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    for field in ("__ntp_timestamp", "__rtp_timestamp", "__packet_count", "__octet_count"):
        assert f"self.{field}" in rtcp
    handler = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    # NACKs go through _retransmit (replaced per sender), REMB to the encoder's target_bitrate.
    assert "await self._retransmit(seq)" in handler
    assert 'hasattr(self.__encoder, "target_bitrate")' in handler
    assert "self.__encoder.target_bitrate = bitrate" in handler
    send = inspect.getsource(RTCRtpSender.send)
    assert "self.__rtx_payload_type = codec.payloadType" in send
    assert "rtx_ssrc" in inspect.getsource(rtcrtpsender)


async def test_sender_privates_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        sender: RTCRtpSender = transceiver.sender
        for name in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
            assert hasattr(sender, f"_RTCRtpSender__{name}")
        assert sender._RTCRtpSender__rtx_payload_type is None  # type: ignore[attr-defined]
        assert isinstance(sender._rtx_ssrc, int)
        assert send_parameters(transceiver) is None  # not negotiated
        record_sent(sender, 1 << 32, 90000, 3, 300)
        assert sender._RTCRtpSender__packet_count == 3  # type: ignore[attr-defined]
    finally:
        await pc.close()


async def test_per_sender_changes_leave_other_senders_alone() -> None:
    pc = RTCPeerConnection()
    try:
        one, other = (pc.addTransceiver("video").sender for _ in range(2))
        keyframes: list[int] = []
        nacked: list[int] = []
        on_keyframe_request(one, lambda: keyframes.append(1))
        on_retransmit_request(one, nacked.append)
        set_sender_ids(one, "alice", "alice-video")
        one._send_keyframe()
        await one._retransmit(7)
        assert keyframes == [1]
        assert nacked == [7]
        assert (one._stream_id, one._track_id) == ("alice", "alice-video")
        assert "_send_keyframe" not in vars(other)
        assert "_retransmit" not in vars(other)
        assert other._stream_id != "alice"
    finally:
        await pc.close()


async def test_counting_encoder_counts_real_encodes() -> None:
    calls: list[int] = []
    sender = _sender()
    install_counting_encoder(sender, VP8, lambda: calls.append(1))
    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
    frame = pattern_frame(0)
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, False)
    assert payloads
    assert calls == [1]
    packet = av.Packet(b"\x10\x02\x00")
    packet.pts = 3000
    packet.time_base = fractions.Fraction(1, 90000)
    assert encoder.pack(packet)[0]
    assert calls == [1]


def test_packetizer_splits_a_frame_into_rtp_payloads() -> None:
    packet = av.Packet(b"\x10\x02\x00" + bytes(3000))
    packet.pts = 3000
    packet.time_base = fractions.Fraction(1, 90000)
    payloads, timestamp = packetizer(VP8).pack(packet)
    assert len(payloads) > 1  # more than one MTU's worth
    assert timestamp == 3000


async def test_a_subscribers_remb_reaches_the_estimate_callback() -> None:
    from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci

    sender = _sender()
    install_counting_encoder(sender, VP8, lambda: None)
    seen: list[int] = []
    assert on_bandwidth_estimate(sender, seen.append)
    remb = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(750_000, [sender._ssrc])
    )
    await sender._handle_rtcp_packet(remb)
    assert seen == [750_000]
    # Without the counting encoder there is nowhere to hear it: said, not silently ignored.
    assert not on_bandwidth_estimate(_sender(), seen.append)
