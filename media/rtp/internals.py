"""The aiortc and aioice internals the RTP-level forwarding path relies on, in one place.

Like media/aiortc_compat.py, pinned to aiortc 1.16.0 / aioice 0.13 / pylibsrtp 1.0 and checked by
tests/media/test_rtp_internals.py, which fails loudly if any shape used here moves. Every
change is per object (one ICE connection, one sender); nothing module-level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pylibsrtp
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx
from pylibsrtp._binding import ffi, lib

from media.aiortc_compat import check_version

DatagramHandler = Callable[[bytes, int], None]
SrtpTransform = Callable[[bytes], bytes]


def ice_connection(dtls: RTCDtlsTransport) -> Any:
    """The aioice ``Connection`` under a DTLS transport (created with the peer connection)."""
    return dtls.transport._connection


def intercept_datagrams(
    dtls: RTCDtlsTransport, make_handler: Callable[[DatagramHandler], DatagramHandler]
) -> None:
    """Put ``make_handler(stock)`` in front of aioice's queue for this connection's datagrams.

    aioice's protocols hand every non-STUN datagram to ``Connection.data_received(data,
    component)``, which queues it for ``RTCDtlsTransport``'s receive loop. The handler sees each
    datagram first and passes on what it does not take by calling ``stock``.

    Each of the connection's protocols also hands RTP and RTCP (RFC 7983: first byte 128-191,
    never STUN) straight to the handler: aioice would first try to parse them as STUN and give
    up with a ValueError (~6 % of the relay's CPU). The protocols appear when candidates are
    gathered, often after this is installed; they are looked for whenever a datagram comes the
    long way, which DTLS does before any SRTP.
    """
    check_version()
    connection = ice_connection(dtls)
    stock: DatagramHandler = connection.data_received
    handler = make_handler(stock)
    protocols: list[Any] = connection._protocols  # grows in place while gathering
    demultiplexed = 0

    def data_received(data: bytes, component: int) -> None:
        nonlocal demultiplexed
        if demultiplexed != len(protocols):
            for protocol in protocols[demultiplexed:]:
                _demultiplex(protocol, handler)
            demultiplexed = len(protocols)
        handler(data, component)

    connection.data_received = data_received


def _demultiplex(protocol: Any, handler: DatagramHandler) -> None:
    stock: Callable[[bytes, Any], None] = protocol.datagram_received
    component: int = protocol.local_candidate.component

    def datagram_received(data: bytes, addr: Any) -> None:
        if data and 127 < data[0] < 192:
            handler(data, component)
        else:
            stock(data, addr)

    protocol.datagram_received = datagram_received  # per instance: the transport looks it up


def srtp_unprotector(dtls: RTCDtlsTransport) -> Callable[[bytes], bytes | None]:
    """``unprotect(packet)``: an SRTP packet through the connection's inbound session (None
    until the DTLS handshake is done); raises ``pylibsrtp.Error`` (authentication, replay)."""
    session: Any = None
    transform: SrtpTransform | None = None

    def unprotect(packet: bytes) -> bytes | None:
        nonlocal session, transform
        current = dtls._rx_srtp
        if current is not session:
            session = current
            transform = None if current is None else _srtp_transform(current, False)
        return None if transform is None else transform(packet)

    return unprotect


def rtp_transmitter(dtls: RTCDtlsTransport) -> Callable[[bytes], bool]:
    """``transmit(packet)``: an RTP packet SRTP-protected and sent on the nominated ICE pair;
    False while there is no SRTP session or pair (yet, or any more). Raises what protecting
    and ``sendto`` raise.

    What ``RTCDtlsTransport._send_rtp`` and aioice's ``Connection.sendto`` do, without their
    coroutines (awaiting one per packet costs a task switch for nothing). The session and the
    pair are looked up per packet; what is derived from them only when they change.
    """
    nominated: dict[int, Any] = ice_connection(dtls)._nominated  # changed in place only
    session: Any = None
    protect: SrtpTransform | None = None
    pair: Any = None
    sendto: Callable[[bytes, Any], None] | None = None
    address: Any = None

    def transmit(packet: bytes) -> bool:
        nonlocal session, protect, pair, sendto, address
        current = nominated.get(1)
        if current is not pair:
            pair = current
            sendto = None
            if pair is not None and pair.protocol is not None:
                transport = getattr(pair.protocol, "transport", None)
                if transport is not None:
                    sendto = transport.sendto
                    address = pair.remote_addr
        srtp = dtls._tx_srtp
        if srtp is not session:
            session = srtp
            protect = None if srtp is None else _srtp_transform(srtp, True)
        if protect is None or sendto is None:
            return False
        sendto(protect(packet), address)
        return True

    return transmit


# pylibsrtp's buffer size, and the room it keeps for the authentication tag (and MKI).
_SRTP_BUFFER = 1500
_SRTP_TRAILER = pylibsrtp.SRTP_MAX_TRAILER_LEN


def _srtp_transform(session: pylibsrtp.Session, protect: bool) -> SrtpTransform:
    """``session.protect`` (or ``unprotect``) at about 60 % of the cost: the same libsrtp call,
    without pylibsrtp's per-call type check, length allocation and two nested calls."""
    srtp = session._srtp  # owns the libsrtp context: kept alive by this closure
    call = lib.srtp_protect if protect else lib.srtp_unprotect
    limit = _SRTP_BUFFER - (_SRTP_TRAILER if protect else 0)
    cdata = ffi.new("char[]", _SRTP_BUFFER)
    buffer = ffi.buffer(cdata)
    length = ffi.new("int *")

    def transform(packet: bytes) -> bytes:
        size = len(packet)
        if size > limit:
            raise ValueError("packet is too long")
        length[0] = size
        buffer[0:size] = packet
        status = call(srtp[0], cdata, length)
        if status:
            raise pylibsrtp.Error(pylibsrtp.ERRORS[status])  # as pylibsrtp raises it
        result: bytes = buffer[0 : length[0]]
        return result

    return transform


def router_ssrcs(receiver: RTCRtpReceiver) -> set[int]:
    """SSRCs aiortc routes to ``receiver``: from the SDP, or learnt from a first packet."""
    table: dict[int, Any] = receiver.transport._rtp_router.ssrc_table
    return {ssrc for ssrc, owner in table.items() if owner is receiver}


def forget_receive_statistics(receiver: RTCRtpReceiver, ssrc: int) -> None:
    """Drop aiortc's statistics for a stream the forwarding path takes over.

    Packets that reached the receiver before the takeover would otherwise keep its receiver
    reports going with figures frozen at that point, beside the forwarding path's own.
    """
    streams: dict[int, Any] = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
    streams.pop(ssrc, None)


def rtx_ssrcs(receiver: RTCRtpReceiver) -> dict[int, int]:
    """Retransmission SSRC -> media SSRC, from the remote SDP's ``ssrc-group:FID``."""
    mapping: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]
    return dict(mapping)


def rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC the receiver's RTCP feedback is sent from."""
    ssrc: int | None = receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
    return ssrc


@dataclass(frozen=True)
class ReceiveCodecs:
    """Payload types a publisher's m-line negotiated: media, and RTX -> its media type."""

    media: frozenset[int]
    rtx: dict[int, int]


def receive_codecs(transceiver: RTCRtpTransceiver) -> ReceiveCodecs:
    media: set[int] = set()
    rtx: dict[int, int] = {}
    for codec in transceiver._codecs:
        apt = codec.parameters.get("apt")
        if codec.payloadType is None:
            continue
        if is_rtx(codec) and isinstance(apt, int):
            rtx[codec.payloadType] = apt
        else:
            media.add(codec.payloadType)
    return ReceiveCodecs(frozenset(media), rtx)


@dataclass(frozen=True)
class SendParameters:
    """What a subscriber's m-line negotiated for the relay's sender."""

    ssrc: int
    payload_type: int
    mid: str | None
    mid_id: int | None
    abs_send_time_id: int | None
    rtx_payload_type: int | None
    rtx_ssrc: int


_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
_ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def send_parameters(transceiver: RTCRtpTransceiver) -> SendParameters | None:
    """None before the m-line is negotiated (aiortc fills ``_codecs`` from the answer)."""
    if not transceiver._codecs or transceiver._codecs[0].payloadType is None:
        return None
    extensions = {ext.uri: ext.id for ext in transceiver._headerExtensions}
    sender = transceiver.sender
    media = transceiver._codecs[0].payloadType
    # As RTCRtpSender.send picks it (read here: send() may not have run yet).
    rtx = next(
        (
            codec.payloadType
            for codec in transceiver._codecs
            if is_rtx(codec) and codec.parameters.get("apt") == media
        ),
        None,
    )
    return SendParameters(
        ssrc=sender._ssrc,
        payload_type=int(transceiver._codecs[0].payloadType),
        mid=transceiver.mid,
        mid_id=extensions.get(_MID_URI),
        abs_send_time_id=extensions.get(_ABS_SEND_TIME_URI),
        rtx_payload_type=rtx,
        rtx_ssrc=sender._rtx_ssrc,
    )


def record_sent(
    sender: RTCRtpSender, ntp: int, rtp_timestamp: int, packets: int, octets: int
) -> None:
    """Feed the sender's RTCP sender reports (``_run_rtcp``) with what was sent around it.

    The receiver lines audio up with video through these (NTP time <-> RTP timestamp).
    """
    sender._RTCRtpSender__ntp_timestamp = ntp  # type: ignore[attr-defined]
    sender._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
    sender._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
    sender._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]


def bandwidth_estimate(sender: RTCRtpSender) -> int | None:
    """The subscriber's last REMB for this sender, as aiortc hands it to the sender's encoder
    (``_handle_rtcp_packet`` sets ``target_bitrate`` on an encoder that has one; the relay's
    ``CountingEncoder`` has one and never uses it)."""
    encoder = sender._RTCRtpSender__encoder  # type: ignore[attr-defined]
    value = getattr(encoder, "target_bitrate", None)
    return value if isinstance(value, int) else None


def on_retransmit_request(sender: RTCRtpSender, callback: Callable[[int], None]) -> None:
    """Route a subscriber's NACKed sequence numbers to ``callback`` (per sender instance).

    aiortc's ``_retransmit`` looks in a history its own send loop fills; packets forwarded at the
    RTP level never enter it.
    """

    async def retransmit(sequence_number: int) -> None:
        callback(sequence_number)

    sender._retransmit = retransmit  # type: ignore[method-assign]  # per instance, on purpose
