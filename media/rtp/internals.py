"""The aiortc and aioice internals the RTP-level forwarding path relies on, in one place.

Like media/aiortc_compat.py, pinned to aiortc 1.16.0 / aioice 0.13 and checked by
tests/media/test_rtp_internals.py, which fails loudly if any shape used here moves. Every
change is per object (one ICE connection, one sender); nothing module-level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import is_rtx

from media.aiortc_compat import check_version

DatagramHandler = Callable[[bytes, int], None]


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
    """
    check_version()
    connection = ice_connection(dtls)
    stock: DatagramHandler = connection.data_received
    connection.data_received = make_handler(stock)


def rx_srtp(dtls: RTCDtlsTransport) -> Any:
    """The inbound SRTP session (None until the DTLS handshake is done)."""
    return dtls._rx_srtp


def tx_srtp(dtls: RTCDtlsTransport) -> Any:
    return dtls._tx_srtp


def nominated_pair(dtls: RTCDtlsTransport) -> object:
    """The ICE candidate pair media goes over (None while not connected)."""
    pair: object = ice_connection(dtls)._nominated.get(1)
    return pair


def datagram_sender(dtls: RTCDtlsTransport) -> Callable[[bytes], None] | None:
    """A synchronous ``send(datagram)`` on the nominated pair; None while not connected.

    ``Connection.send`` is a coroutine around the same ``transport.sendto``: awaiting it per
    packet costs a task switch for nothing.
    """
    pair = ice_connection(dtls)._nominated.get(1)
    if pair is None or pair.protocol is None or pair.protocol.transport is None:
        return None
    transport = pair.protocol.transport
    address = pair.remote_addr

    def send(data: bytes) -> None:
        transport.sendto(data, address)

    return send


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
