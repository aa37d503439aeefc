"""What a publisher's feed fans out to: forwarded tracks today, recorders and frame taps next."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import av
from aiortc.rtp import RtcpSrPacket


class PacketSink(Protocol):
    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        """One encoded frame: ``pts`` counts RTP clock ticks from the start of ``source``.

        ``source`` is an opaque token that changes whenever the publisher's stream is replaced
        (reconnect): timestamps restart and video needs a keyframe before decoding resumes.
        ``packet.is_keyframe`` is set for VP8 keyframes (always True for audio).
        Called on the event loop; must not block and must not mutate the packet (shared).
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
