"""What the relay reads from an aiortc ``RTCDtlsTransport``: its SRTP sessions, to take and send
RTP itself; and the objects the relay keeps on a transport.

aiortc 1.16.0 protects and unprotects RTP inside ``RTCDtlsTransport`` coroutines, one await
per packet, and keeps the SRTP sessions private (``_rx_srtp``, ``_tx_srtp``); pylibsrtp 1.0's
``Session`` adds per-call checks and allocations around one libsrtp call. The forwarding path
(media/rtp/) makes the same libsrtp calls directly. Nothing here changes a transport, apart
from ``keep_on``'s one attribute; checked by tests/media/aiortc/test_dtls.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pylibsrtp
from aiortc import RTCDtlsTransport
from pylibsrtp._binding import ffi, lib

from media.aiortc.ice import ice_connection

SrtpTransform = Callable[[bytes], bytes]
_Kept = TypeVar("_Kept")


def keep_on(dtls: RTCDtlsTransport, value: object) -> None:
    """Keep ``value`` on the transport, one per type: it lives and dies with the connection.

    aiortc's objects have no place for a user's data, and a table kept elsewhere would outlive
    the connections in it.
    """
    kept: dict[type, object] | None = getattr(dtls, "_tandem_kept", None)
    if kept is None:
        kept = {}
        dtls._tandem_kept = kept  # type: ignore[attr-defined]  # per instance, on purpose
    kept[type(value)] = value


def kept_on(dtls: RTCDtlsTransport, kind: type[_Kept]) -> _Kept | None:
    """What ``keep_on`` kept on the transport of type ``kind``, if anything."""
    kept: dict[type, object] = getattr(dtls, "_tandem_kept", {})
    value = kept.get(kind)
    return value if isinstance(value, kind) else None


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
    return _transmitter(dtls, rtcp=False)


def rtcp_transmitter(dtls: RTCDtlsTransport) -> Callable[[bytes], bool]:
    """``transmit(packet)``: an RTCP packet SRTCP-protected and sent as ``rtp_transmitter``
    sends RTP (transport feedback, many a second per publisher: no coroutine each)."""
    return _transmitter(dtls, rtcp=True)


def _transmitter(dtls: RTCDtlsTransport, rtcp: bool) -> Callable[[bytes], bool]:
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
            protect = None if srtp is None else _srtp_transform(srtp, True, rtcp)
        if protect is None or sendto is None:
            return False
        sendto(protect(packet), address)
        return True

    return transmit


# pylibsrtp's buffer size, and the room it keeps for the authentication tag (and MKI).
_SRTP_BUFFER = 1500
_SRTP_TRAILER = pylibsrtp.SRTP_MAX_TRAILER_LEN


def _srtp_transform(session: pylibsrtp.Session, protect: bool, rtcp: bool = False) -> SrtpTransform:
    """``session.protect`` (or ``unprotect``, or their RTCP twins) at about 60 % of the cost:
    the same libsrtp call, without pylibsrtp's per-call type check, length allocation and two
    nested calls."""
    srtp = session._srtp  # owns the libsrtp context: kept alive by this closure
    if rtcp:
        call = lib.srtp_protect_rtcp if protect else lib.srtp_unprotect_rtcp
    else:
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
