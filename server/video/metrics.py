"""Relay and session figures for /metrics, read at scrape time (no copies kept in sync)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from media import Relay
from signaling.local_router import LocalRouter


class RelayCollector(Collector):
    def __init__(self, relay: Relay, local: LocalRouter) -> None:
        self._relay = relay
        self._local = local

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._relay.stats()
        yield GaugeMetricFamily(
            "tandem_relay_rooms", "Media rooms open on this process.", value=stats.rooms
        )
        yield GaugeMetricFamily(
            "tandem_relay_peers", "Peer connections held by the relay.", value=stats.peers
        )
        yield GaugeMetricFamily(
            "tandem_video_sessions_hosted",
            "Video sessions whose state lives on this process.",
            value=len(self._local.hosted_sessions()),
        )
        counters = {
            "tandem_relay_forwarded_frames": (
                "Encoded frames handed to subscribers' senders.", stats.forwarded_packets
            ),
            "tandem_relay_forwarded_bytes": (
                "Payload bytes of forwarded frames.", stats.forwarded_bytes
            ),
            "tandem_relay_keyframe_requests": (
                "PLIs sent to publishers (after rate limiting).", stats.keyframe_requests
            ),
            "tandem_relay_dropped_frames": (
                "Frames dropped because a consumer fell behind.", stats.dropped_packets
            ),
            "tandem_relay_decodes": (
                "Media decodes on the forwarding path (must stay 0).", stats.decode_calls
            ),
            "tandem_relay_encodes": (
                "Media encodes on the forwarding path (must stay 0).", stats.encode_calls
            ),
            "tandem_relay_rtp_received_packets": (
                "Publisher RTP packets taken by RTP-level forwarding.", stats.rtp_received_packets
            ),
            "tandem_relay_rtp_forwarded_packets": (
                "RTP packets sent to subscribers by RTP-level forwarding.",
                stats.rtp_forwarded_packets,
            ),
            "tandem_relay_rtp_retransmitted_packets": (
                "Packets re-sent to subscribers over RTX after a NACK.",
                stats.rtp_retransmitted_packets,
            ),
            "tandem_relay_rtp_nacks_sent": (
                "NACKs sent to publishers for lost packets.", stats.rtp_nacks_sent
            ),
            "tandem_relay_rtp_refused_packets": (
                "Publisher packets refused: failed SRTP authentication, malformed, unknown type.",
                stats.rtp_unprotect_failures + stats.rtp_malformed_packets,
            ),
            "tandem_relay_rtp_send_errors": (
                "Packets a subscriber's transport failed to send.", stats.rtp_send_errors
            ),
            "tandem_relay_rtp_feedback_packets": (
                "Transport feedback packets sent to publishers (their uplink estimate).",
                stats.rtp_feedback_packets,
            ),
            "tandem_recording_journal_cpu_seconds": (
                "CPU seconds of the thread that appends recordings' journals (fsync included).",
                self._relay.journal_writer.cpu_seconds,
            ),
        }  # fmt: skip
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=value)
