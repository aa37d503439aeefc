"""Pins what media/aiortc/dtls.py relies on in aiortc's DTLS transport and pylibsrtp, and checks
its SRTP transforms against pylibsrtp's own."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pylibsrtp
import pytest
from aiortc import RTCPeerConnection, rtcdtlstransport
from pylibsrtp import Policy, Session

from media.aiortc import keep_on, kept_on, rtcp_transmitter, rtp_transmitter, srtp_unprotector
from media.rtp.wire import FIXED_HEADER


def test_srtp_transforms_match_pylibsrtp() -> None:
    key = bytes(range(30))

    def session(kind: int) -> Session:
        return Session(Policy(key=key, ssrc_type=kind))

    source = inspect.getsource(Session)  # what dtls._srtp_transform does, more directly
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
    transmit = rtp_transmitter(dtls)
    unprotect = srtp_unprotector(dtls)
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
    # RTCP (transport feedback) goes the same way, SRTCP-protected, as pylibsrtp would.
    rtcp = bytes([0x8F, 205, 0, 4]) + bytes(16)
    sent.clear()
    assert rtcp_transmitter(dtls)(rtcp) is True
    assert sent == [(session(Policy.SSRC_ANY_OUTBOUND).protect_rtcp(rtcp), ("a", 9))]
    nominated.clear()  # the connection closed
    assert transmit(packet) is False


def ice_stub(nominated: dict[int, object]) -> SimpleNamespace:
    return SimpleNamespace(_nominated=nominated)


def test_dtls_transport_shapes() -> None:
    source = inspect.getsource(rtcdtlstransport.RTCDtlsTransport)
    assert "data = self._rx_srtp.unprotect(data)" in source
    assert "data = self._tx_srtp.protect(data)" in source


async def test_transport_privates_exist() -> None:
    pc = RTCPeerConnection()
    try:
        transport = pc.addTransceiver("video", direction="sendrecv").sender.transport
        rtp = FIXED_HEADER.pack(0x80, 96, 1, 2, 3)
        assert rtp_transmitter(transport)(rtp) is False  # not connected
        assert srtp_unprotector(transport)(rtp) is None
    finally:
        await pc.close()


async def test_what_is_kept_on_a_transport_is_one_per_type() -> None:
    pc = RTCPeerConnection()
    try:
        one, other = (pc.addTransceiver("video").sender.transport for _ in range(2))
        assert kept_on(one, list) is None
        first: list[int] = []
        keep_on(one, first)
        keep_on(one, "a string")
        assert kept_on(one, list) is first
        assert kept_on(one, str) == "a string"
        assert kept_on(other, list) is None or other is one  # bundled: one transport
    finally:
        await pc.close()
