"""Pins every aiortc/aioice internal that media/rtp/internals.py relies on.

If one of these fails after an upgrade, re-check media/rtp/ before changing anything else.
"""

from __future__ import annotations

import inspect

import aioice
from aioice import ice
from aiortc import RTCPeerConnection, rtcdtlstransport, rtcrtpsender
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

from media.aiortc_compat import PINNED_AIORTC_VERSION
from media.rtp import internals


def test_versions_are_the_pinned_ones() -> None:
    import aiortc

    assert aiortc.__version__ == PINNED_AIORTC_VERSION
    assert aioice.__version__.startswith("0.13")


def test_aioice_hands_non_stun_datagrams_to_the_connection() -> None:
    source = inspect.getsource(ice.StunProtocol.datagram_received)
    assert "self.receiver.data_received(data, self.local_candidate.component)" in source
    assert "self._queue.put_nowait((data, component))" in inspect.getsource(
        ice.Connection.data_received
    )
    sendto = inspect.getsource(ice.Connection.sendto)
    assert "self._nominated.get(component)" in sendto
    assert "active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(ice.StunProtocol.send_data)


def test_dtls_transport_shapes() -> None:
    source = inspect.getsource(rtcdtlstransport.RTCDtlsTransport)
    assert "data = self._rx_srtp.unprotect(data)" in source
    assert "data = self._tx_srtp.protect(data)" in source
    assert "self.ssrc_table: dict[int, RtpReceiver]" in inspect.getsource(
        rtcdtlstransport.RtpRouter
    )


async def test_receiver_and_sender_privates_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver("video", direction="sendrecv")
        receiver: RTCRtpReceiver = transceiver.receiver
        sender: RTCRtpSender = transceiver.sender
        assert isinstance(internals.rtx_ssrcs(receiver), dict)
        assert internals.rtcp_ssrc(receiver) == sender._ssrc
        assert isinstance(receiver._RTCRtpReceiver__remote_streams, dict)  # type: ignore[attr-defined]
        internals.forget_receive_statistics(receiver, 1234)
        assert internals.router_ssrcs(receiver) == set()
        for name in ("_send_rtcp", "_send_rtcp_nack", "_send_rtcp_pli"):
            assert inspect.iscoroutinefunction(getattr(receiver, name))
        for name in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
            assert hasattr(sender, f"_RTCRtpSender__{name}")
        assert sender._RTCRtpSender__rtx_payload_type is None  # type: ignore[attr-defined]
        assert isinstance(sender._rtx_ssrc, int)
        assert transceiver._codecs == []
        assert internals.send_parameters(transceiver) is None
        assert internals.datagram_sender(sender.transport) is None  # not connected
        assert internals.rx_srtp(sender.transport) is None
        assert internals.tx_srtp(sender.transport) is None
        internals.record_sent(sender, 1 << 32, 90000, 3, 300)
        assert sender._RTCRtpSender__packet_count == 3  # type: ignore[attr-defined]
    finally:
        await pc.close()


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
