"""The relay's counters: bumped in place on the forwarding path, read as a ``RelayStats``
snapshot (the application's /metrics)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelayStats:
    rooms: int
    peers: int
    # Encoded frames (one av.Packet each, one or more RTP packets on the wire) handed to
    # subscriber senders, and their payload bytes.
    forwarded_packets: int
    forwarded_bytes: int
    # PLIs actually sent to publishers (after rate limiting).
    keyframe_requests: int
    # Frames dropped by bounded queues because their consumer fell behind.
    dropped_packets: int
    # Media decodes/encodes on the relay's own receivers/senders: must stay 0 when forwarding.
    decode_calls: int
    encode_calls: int
    # RTP-level forwarding (media/rtp/): publisher packets taken, packets and payload bytes
    # sent to subscribers, NACKed packets re-sent over RTX, NACKs sent to publishers, and
    # packets refused (SRTP authentication, malformed header or unknown payload type) or not
    # sent (a subscriber's broken transport).
    rtp_received_packets: int = 0
    rtp_forwarded_packets: int = 0
    rtp_forwarded_bytes: int = 0
    rtp_retransmitted_packets: int = 0
    rtp_nacks_sent: int = 0
    rtp_unprotect_failures: int = 0
    rtp_malformed_packets: int = 0
    rtp_send_errors: int = 0
    # Transport feedback packets sent to publishers (media/rtp/twcc.py).
    rtp_feedback_packets: int = 0


_RTP_COUNTERS = (
    "rtp_received_packets",
    "rtp_forwarded_packets",
    "rtp_forwarded_bytes",
    "rtp_retransmitted_packets",
    "rtp_nacks_sent",
    "rtp_unprotect_failures",
    "rtp_malformed_packets",
    "rtp_send_errors",
    "rtp_feedback_packets",
)


class Counters:
    """Mutable tallies shared by one relay's objects; read through ``snapshot``."""

    def __init__(self) -> None:
        self.forwarded_packets = 0
        self.forwarded_bytes = 0
        self.keyframe_requests = 0
        self.dropped_packets = 0
        self.decode_calls = 0
        self.encode_calls = 0
        self.rtp_received_packets = 0
        self.rtp_forwarded_packets = 0
        self.rtp_forwarded_bytes = 0
        self.rtp_retransmitted_packets = 0
        self.rtp_nacks_sent = 0
        self.rtp_unprotect_failures = 0
        self.rtp_malformed_packets = 0
        self.rtp_send_errors = 0
        self.rtp_feedback_packets = 0

    def count_drop(self) -> None:
        self.dropped_packets += 1

    def count_encode(self) -> None:
        self.encode_calls += 1

    def snapshot(self, rooms: int, peers: int) -> RelayStats:
        return RelayStats(
            rooms=rooms,
            peers=peers,
            forwarded_packets=self.forwarded_packets,
            forwarded_bytes=self.forwarded_bytes,
            keyframe_requests=self.keyframe_requests,
            dropped_packets=self.dropped_packets,
            decode_calls=self.decode_calls,
            encode_calls=self.encode_calls,
            **{name: getattr(self, name) for name in _RTP_COUNTERS},
        )
