"""What a publisher's feed fans out to besides subscribers: recorders and frame taps."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import av

from media.aiortc import RtcpSrPacket


class PacketSink(Protocol):
    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        """One encoded frame: ``pts`` counts RTP clock ticks from the start of ``source``.

        ``source`` is an opaque token that changes whenever the publisher's stream is replaced
        (reconnect): timestamps restart and video needs a keyframe before decoding resumes.
        ``packet.is_keyframe`` is set for VP8 keyframes (always True for audio).
        Called on the event loop; must not block and must not mutate the packet (shared).
        """


@runtime_checkable
class RtpSink(Protocol):
    """A sink that takes the publisher's RTP packets themselves, where the feed has them
    (RTP-level forwarding): recorders, which build frames later. Elsewhere it gets frames
    through ``on_packet``, so it must be a ``PacketSink`` too."""

    def on_rtp(self, packet: bytes, seq: int, arrival: float, source: object) -> None:
        """One unprotected RTP packet as it arrived (``time.time()``), on the event loop.

        A retransmission comes unwrapped: its payload is the original's, ``seq`` is the
        original sequence number (the header keeps the RTX stream's). Packets come in arrival
        order, not sequence order. Must not block; ``packet`` is shared, never mutated.
        """


@runtime_checkable
class SenderReportSink(Protocol):
    """A sink that also wants the publisher's RTCP sender reports (recorders: A/V sync)."""

    def on_sender_report(
        self, report: RtcpSrPacket, rtp_origin: int | None, source: object
    ) -> None:
        """``rtp_origin`` is the raw RTP timestamp that packet pts 0 stands for (None: no media
        yet), so ``report.sender_info.rtp_timestamp - rtp_origin`` is on the packets' pts line
        (modulo 2**32)."""
