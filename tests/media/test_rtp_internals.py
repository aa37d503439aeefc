"""Pins every aiortc/aioice internal that media/rtp/internals.py relies on.

If one of these fails after an upgrade, re-check media/rtp/ before changing anything else.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aioice
import pylibsrtp
import pytest
import uvloop
from aioice import ice, stun
from aioice.candidate import Candidate
from aiortc import RTCPeerConnection, rtcdtlstransport, rtcrtpsender
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from pylibsrtp import Policy, Session

from media.aiortc_compat import PINNED_AIORTC_VERSION
from media.rtp import internals
from media.rtp.wire import FIXED_HEADER


def test_versions_are_the_pinned_ones() -> None:
    import aiortc

    assert aiortc.__version__ == PINNED_AIORTC_VERSION
    assert aioice.__version__.startswith("0.13")
    assert pylibsrtp.__version__.startswith("1.0")


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


def test_aioice_changes_protocols_and_nominated_pairs_in_place() -> None:
    # intercept_datagrams follows _protocols as it grows; rtp_transmitter holds _nominated.
    source = inspect.getsource(ice.Connection)
    assert "self._protocols: list[StunProtocol] = []" in source
    assert "self._protocols += host_protocols" in source
    assert "self._protocols.append(relay_protocol)" in source
    assert "self._protocols =" not in source
    assert "self._nominated: dict[int, CandidatePair] = {}" in source
    assert "self._nominated =" not in source
    # Each protocol parses every datagram as STUN first; only what fails goes on.
    received = inspect.getsource(ice.StunProtocol.datagram_received)
    assert received.index("stun.parse_message(data)") < received.index("except ValueError:")


@pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_datagram_transports_look_up_the_protocols_handler_per_datagram(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    """intercept_datagrams replaces ``datagram_received`` on protocols already connected."""

    class Protocol(asyncio.DatagramProtocol):  # with a __dict__, like aioice's
        pass

    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        received: asyncio.Future[bytes] = loop.create_future()
        transport, protocol = await loop.create_datagram_endpoint(
            Protocol, local_addr=("127.0.0.1", 0)
        )
        protocol.datagram_received = lambda data, addr: received.set_result(data)  # type: ignore[method-assign]
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=transport.get_extra_info("sockname")
        )
        try:
            sender.sendto(b"\x80rtp")
            return await asyncio.wait_for(received, 5)
        finally:
            sender.close()
            transport.close()
            await asyncio.sleep(0)

    loop = new_loop()
    try:
        assert loop.run_until_complete(run()) == b"\x80rtp"
    finally:
        loop.close()


def stun_protocol(connection: ice.Connection, port: int) -> ice.StunProtocol:
    protocol = ice.StunProtocol(connection)
    protocol.local_candidate = Candidate(
        foundation="1", component=1, transport="udp", priority=1, host="127.0.0.1", port=port,
        type="host",
    )  # fmt: skip
    return protocol


async def test_rtp_and_rtcp_skip_aioice_stun_parsing_and_the_rest_goes_aiortcs_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = ice.Connection(ice_controlling=True)
    first = stun_protocol(connection, 1000)
    connection._protocols.append(first)
    parsed: list[bytes] = []
    parse = stun.parse_message
    monkeypatch.setattr(stun, "parse_message", lambda data: parsed.append(data) or parse(data))
    requests: list[stun.Message] = []
    monkeypatch.setattr(connection, "request_received", lambda m, *_: requests.append(m))
    taken: list[bytes] = []

    def make_handler(stock: internals.DatagramHandler) -> internals.DatagramHandler:
        def handler(data: bytes, component: int) -> None:
            if data[1:2] == b"\x60":  # "RTP" (payload type 96): taken, the rest passed on
                taken.append(data)
            else:
                stock(data, component)

        return handler

    dtls: Any = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
    internals.intercept_datagrams(dtls, make_handler)
    addr = ("127.0.0.1", 2000)
    rtp = FIXED_HEADER.pack(0x80, 96, 1, 2, 3)
    rtcp = bytes([0x80, 200, 0, 1]) + bytes(4)
    dtls_record = bytes([22, 0xFE, 0xFD]) + bytes(20)
    binding = bytes(stun.Message(stun.Method.BINDING, stun.Class.REQUEST))

    first.datagram_received(dtls_record, addr)  # the long way: aioice then the handler
    assert connection._queue.get_nowait() == (dtls_record, 1)
    second = stun_protocol(connection, 1001)  # gathered later
    connection._protocols.append(second)
    second.datagram_received(rtp, addr)  # the long way once, and the new protocol is found
    assert taken == [rtp]
    parsed.clear()
    for protocol in (first, second):
        protocol.datagram_received(rtp, addr)
        protocol.datagram_received(rtcp, addr)
        assert connection._queue.get_nowait() == (rtcp, 1)
    assert taken == [rtp] * 3
    assert parsed == []  # RTP and RTCP never went through aioice's STUN parser
    first.datagram_received(binding, addr)
    first.datagram_received(b"", addr)  # neither STUN nor anything else: aioice queues it
    assert [m.message_method for m in requests] == [stun.Method.BINDING]
    assert connection._queue.get_nowait() == (b"", 1)


def test_srtp_transforms_match_pylibsrtp() -> None:
    key = bytes(range(30))

    def session(kind: int) -> Session:
        return Session(Policy(key=key, ssrc_type=kind))

    source = inspect.getsource(Session)  # what internals._srtp_transform does, more directly
    assert 'self._cdata = ffi.new("char[]", 1500)' in source
    assert "func(self._srtp[0], self._cdata, len_p)" in source
    assert "lib.srtp_protect, SRTP_MAX_TRAILER_LEN" in source
    assert "raise Error(ERRORS[rc])" in inspect.getsource(pylibsrtp)
    sent: list[tuple[bytes, object]] = []
    transport = SimpleNamespace(sendto=lambda data, addr: sent.append((data, addr)))
    pair = SimpleNamespace(protocol=SimpleNamespace(transport=transport), remote_addr=("a", 9))
    nominated: dict[int, object] = {}
    dtls: Any = SimpleNamespace(
        _tx_srtp=None, _rx_srtp=None, transport=SimpleNamespace(_connection=ice_stub(nominated))
    )
    transmit = internals.rtp_transmitter(dtls)
    unprotect = internals.srtp_unprotector(dtls)
    packet = FIXED_HEADER.pack(0x80, 96, 1, 2, 3) + b"payload"
    assert transmit(packet) is False  # no SRTP session, no pair
    dtls._tx_srtp = session(Policy.SSRC_ANY_OUTBOUND)
    assert transmit(packet) is False  # no pair
    nominated[1] = pair
    assert transmit(packet) is True
    assert sent == [(session(Policy.SSRC_ANY_OUTBOUND).protect(packet), ("a", 9))]
    protected = sent[0][0]
    assert unprotect(protected) is None  # no inbound session yet
    dtls._rx_srtp = session(Policy.SSRC_ANY_INBOUND)
    assert unprotect(protected) == packet
    with pytest.raises(pylibsrtp.Error, match="replay"):
        unprotect(protected)
    forged = protected[:-1] + bytes([protected[-1] ^ 1])
    with pytest.raises(pylibsrtp.Error, match="authentication"):
        unprotect(FIXED_HEADER.pack(0x80, 96, 2, 2, 3) + forged[12:])
    with pytest.raises(ValueError, match="too long"):
        transmit(packet + bytes(1400))
    nominated.clear()  # the connection closed
    assert transmit(packet) is False


def ice_stub(nominated: dict[int, object]) -> SimpleNamespace:
    return SimpleNamespace(_nominated=nominated)


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
        rtp = FIXED_HEADER.pack(0x80, 96, 1, 2, 3)
        assert internals.rtp_transmitter(sender.transport)(rtp) is False  # not connected
        assert internals.srtp_unprotector(sender.transport)(rtp) is None
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
