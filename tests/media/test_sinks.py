from __future__ import annotations

from typing import Any

import av
from aiortc.rtp import RtcpSrPacket

from media import PacketSink, Relay, SenderReportSink
from media.testing.client import ClientPool


class CollectingSink:
    """What a recorder or frame tap will look like: encoded packets plus sender reports."""

    def __init__(self) -> None:
        self.packets: list[tuple[int, bool]] = []
        self.reports: list[tuple[int, int | None]] = []

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        assert packet.pts is not None
        self.packets.append((packet.pts, packet.is_keyframe))

    def on_sender_report(
        self, report: RtcpSrPacket, rtp_origin: int | None, source: object
    ) -> None:
        self.reports.append((report.sender_info.rtp_timestamp, rtp_origin))


async def test_extra_sinks_get_encoded_packets_and_sender_reports(
    relay: Relay, clients: ClientPool
) -> None:
    room = relay.room("session")
    alice = await clients.join(room, "alice")
    await alice.wait_idle()
    sink = CollectingSink()
    assert isinstance(sink, SenderReportSink)
    typed: PacketSink = sink
    room.feeds("alice")["video"].add_sink(typed)
    await alice.wait_for(lambda: len(sink.packets) >= 30 and len(sink.reports) >= 1, 10)
    pts = [p for p, _ in sink.packets]
    assert pts == sorted(pts)
    # Adding a sink asks the publisher for a keyframe (a recorder must start on one).
    assert any(keyframe for _, keyframe in sink.packets)
    assert all(origin is not None for _, origin in sink.reports)
    room.feeds("alice")["video"].remove_sink(typed)
