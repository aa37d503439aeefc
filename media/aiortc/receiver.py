"""What the relay reads from and sends through an aiortc ``RTCRtpReceiver``.

aiortc 1.16.0 keeps a receiver's RTCP sending, the SSRCs its transport routes to it, its
receive statistics and its RTP timestamp origin private. The relay needs them to ask a
publisher for keyframes and retransmissions, to report reception and bandwidth estimates on
packets it takes off the connection itself (media/rtp/), and to time recordings. Every change
is per receiver instance; checked by tests/media/aiortc/test_receiver.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSrPacket,
    pack_remb_fci,
)

logger = logging.getLogger(__name__)


def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Ask the remote sender of ``receiver`` for a keyframe. Returns False if nothing to ask yet."""
    sources = receiver.getSynchronizationSources()
    if not sources:
        return False
    for source in sources:
        # A coroutine that only serializes and sends one RTCP packet.
        task = asyncio.ensure_future(receiver._send_rtcp_pli(source.source))
        task.add_done_callback(log_task_error)
    return True


def log_task_error(task: asyncio.Future[None]) -> None:
    """Done-callback for fire-and-forget RTCP sends: a failure is logged, never raised."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("RTCP send failed: %r", task.exception())


def on_sender_report(receiver: RTCRtpReceiver, callback: Callable[[RtcpSrPacket], None]) -> None:
    """Observe RTCP sender reports on one receiver (A/V sync for recorders) without changing it."""
    original: Callable[[Any], Awaitable[None]] = receiver._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            callback(packet)
        await original(packet)

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]  # per instance, on purpose


def rtp_timestamp_origin(receiver: RTCRtpReceiver) -> int | None:
    """The raw RTP timestamp the receiver's packet pts count from (None before any media)."""
    mapper = receiver._RTCRtpReceiver__timestamp_mapper  # type: ignore[attr-defined]
    origin: int | None = mapper._origin
    return None if origin is None else origin & 0xFFFFFFFF


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


# The sends below hand back aiortc's own coroutine (one RTCP packet serialized and sent over
# the receiver's transport): the caller awaits it or runs it as a task.


def send_rtcp(receiver: RTCRtpReceiver, packet: Any) -> Coroutine[Any, Any, None]:
    """Send an RTCP packet (``receiver_report``, ``remb``) from the receiver's side."""
    sent: Coroutine[Any, Any, None] = receiver._send_rtcp(packet)
    return sent


def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> Coroutine[Any, Any, None]:
    """Ask the sender of ``media_ssrc`` for a keyframe (RTCP PLI)."""
    sent: Coroutine[Any, Any, None] = receiver._send_rtcp_pli(media_ssrc)
    return sent


def send_nack(
    receiver: RTCRtpReceiver, media_ssrc: int, lost: list[int]
) -> Coroutine[Any, Any, None]:
    """Ask the sender of ``media_ssrc`` for these sequence numbers again (RTCP NACK)."""
    sent: Coroutine[Any, Any, None] = receiver._send_rtcp_nack(media_ssrc, lost)
    return sent


def receiver_report(
    rtcp_ssrc: int,
    media_ssrc: int,
    *,
    fraction_lost: int,
    packets_lost: int,
    highest_sequence: int,
    jitter: int,
    lsr: int,
    dlsr: int,
) -> RtcpRrPacket:
    """An RTCP receiver report with one reception block, for ``send_rtcp``."""
    block = RtcpReceiverInfo(
        ssrc=media_ssrc,
        fraction_lost=fraction_lost,
        packets_lost=packets_lost,
        highest_sequence=highest_sequence,
        jitter=jitter,
        lsr=lsr,
        dlsr=dlsr,
    )
    return RtcpRrPacket(ssrc=rtcp_ssrc, reports=[block])


def remb(rtcp_ssrc: int, bitrate: int, media_ssrcs: list[int]) -> RtcpPsfbPacket:
    """A receiver estimated maximum bitrate (REMB) for ``media_ssrcs``, for ``send_rtcp``."""
    return RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP,
        ssrc=rtcp_ssrc,
        media_ssrc=0,
        fci=pack_remb_fci(bitrate, media_ssrcs),
    )
