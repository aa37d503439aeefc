"""One subscriber's copy of one publisher's track, sent at the RTP level."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import RTCRtpTransceiver
from pylibsrtp import Error as SrtpError

from media.aiortc import (
    SendParameters,
    on_bandwidth_estimate,
    on_retransmit_request,
    record_sent,
    rtp_transmitter,
    send_parameters,
)
from media.rtp.congestion import START_CAP, Ceiling, ObserverGate
from media.rtp.wire import HeaderWriter, header_length, ntp_now
from media.stats import Counters

logger = logging.getLogger(__name__)

# Sent packets kept for retransmission: ~1.5 s of 1 Mbps video, ~10 s of Opus.
HISTORY_SIZE = 512
# A subscriber's m-line can be ready on the relay's side (answer applied, DTLS done) a moment
# before the subscriber has registered its receiver: a keyframe sent at once was seen lost at
# the receiver, which then decoded garbage until its own keyframe request was answered.
SETTLE_SECONDS = 0.05
# How often the sender's RTCP sender-report figures are brought up to date (it reports every
# 0.5-1.5 s; doing it per packet cost ~8 % of the forwarding path).
REPORT_EVERY = 0.1
# A publisher packet kept for late starters: (packet, header end, sequence number, timestamp,
# keyframe start as in ``forward``).
RecentPacket = tuple[bytes, int, int, int, bool | None]
# One frame's worth of RTP clock: where a replaced stream's timestamps continue from.
FRAME_TICKS = {"video": 3000, "audio": 960}
# A new subscriber starts from the publisher's kept packets only if they are at most this many
# seconds of what the subscriber may take (its ceiling; START_CAP before its first estimate):
# a second of a fast publisher's video, sent at once, overflows a slow home link's queue and
# loses the very keyframe it was meant to start with. Otherwise it asks for a fresh keyframe,
# which the publisher makes at the rate it was just capped to.
REPLAY_SECONDS = 0.5


class OutStream:
    """Rewrites a publisher's packets into the subscriber's stream and sends them.

    The subscriber's m-line was negotiated with aiortc as usual (SSRC, payload type, mid,
    header extensions, RTX); packets keep their payload byte for byte and get that m-line's
    header: SSRC, payload type, and sequence numbers and timestamps continuing one line across
    publisher reconnects and slot reuse. Video starts at a keyframe. Sent packets are kept for
    NACKs (answered over RTX when negotiated), and the sender's RTCP reports are fed.

    The subscriber's bandwidth estimates (REMB) are kept for the publisher's policy
    (media/rtp/congestion.py): ``limits_publisher`` is False for an observer, whose estimate
    must not cap the publisher; its video can be switched off instead (``allow_video``).
    """

    def __init__(
        self,
        kind: str,
        transceiver: RTCRtpTransceiver,
        counters: Counters,
        request_keyframe: Callable[[], None],
        *,
        limits_publisher: bool = True,
    ) -> None:
        self.kind = kind
        self._limits_publisher = limits_publisher
        self._transceiver = transceiver
        self._sender = transceiver.sender
        self._dtls = transceiver.sender.transport
        self._counters = counters
        self._request_keyframe = request_keyframe
        self._params: SendParameters | None = None
        self._header: HeaderWriter | None = None
        self._source: object | None = None
        self._synced = kind != "video"
        self._seq_offset = 0
        self._ts_offset = 0
        self._last_seq: int | None = None
        self._last_ts: int | None = None
        self._rebase = True
        self._ready_since: float | None = None
        # Sent packets (unprotected) by sequence number modulo the size; each has its own in
        # its header.
        self._history: list[bytes | None] = [None] * HISTORY_SIZE
        self._rtx_seq = 0
        self._packets = 0
        self._octets = 0
        self._reported_at = 0.0
        self._transmitter = rtp_transmitter(self._dtls)
        # The subscriber's latest REMB (bits/s) and when it came (monotonic).
        self._estimate: int | None = None
        self._estimate_new = False
        self.estimated_at = 0.0
        self._on_estimate: Callable[[], None] | None = None
        self.ceiling = Ceiling(time.monotonic())
        # When video last started reaching the subscriber (monotonic), and whether it may.
        self._video_since: float | None = None
        self._video_allowed = True
        # An observer's video is switched off while its link cannot carry it.
        self.gate: ObserverGate | None = None
        if not limits_publisher and kind == "video":
            self.gate = ObserverGate(since=time.monotonic())
        self.on_video_allowed: Callable[[bool], None] | None = None
        on_retransmit_request(self._sender, self.retransmit)
        on_bandwidth_estimate(self._sender, self._estimated)

    @property
    def parameters(self) -> SendParameters | None:
        """What the subscriber's m-line negotiated (None until the stream is first ready)."""
        return self._params

    @property
    def limits_publisher(self) -> bool:
        return self._limits_publisher

    @property
    def video_since(self) -> float | None:
        return self._video_since

    @property
    def video_allowed(self) -> bool:
        return self._video_allowed

    def estimate(self) -> int | None:
        """The subscriber's latest bandwidth estimate (REMB, bits/s), if it sent one."""
        return self._estimate

    def take_estimate(self) -> int | None:
        """The estimate that arrived since the last call, if any (for the ceiling)."""
        if not self._estimate_new:
            return None
        self._estimate_new = False
        return self._estimate

    def set_estimate_listener(self, listener: Callable[[], None] | None) -> None:
        """Called on each new estimate (the feed's policy reacts at once)."""
        self._on_estimate = listener

    def _estimated(self, bitrate: int) -> None:
        self._estimate = bitrate
        self._estimate_new = True
        self.estimated_at = time.monotonic()
        if self._on_estimate is not None:
            self._on_estimate()

    def allow_video(self, allowed: bool) -> None:
        """Stop sending video, or start again (at a keyframe, with no stale estimate)."""
        if allowed == self._video_allowed:
            return
        self._video_allowed = allowed
        self._synced = self.kind != "video"
        self._video_since = None
        self._estimate = None
        if self.on_video_allowed is not None:
            self.on_video_allowed(allowed)

    def set_keyframe_requester(self, request_keyframe: Callable[[], None]) -> None:
        self._request_keyframe = request_keyframe

    def detach(self) -> None:
        """The slot lost its publisher: forget the old stream, keep the sequence line (and
        what the subscriber's link takes); the next publisher's video is tried afresh."""
        self._source = None
        self._synced = self.kind != "video"
        self.allow_video(True)
        if self.gate is not None:
            self.gate = ObserverGate(since=time.monotonic())

    def _ready(self, now: float) -> bool:
        if self._transceiver.currentDirection != "sendonly":
            self._ready_since = None
            return False
        if self._params is None:
            self._params = send_parameters(self._transceiver)
            if self._params is None:
                return False
            self._header = HeaderWriter(
                self._params.ssrc,
                self._params.payload_type,
                self._params.mid,
                self._params.mid_id,
                self._params.abs_send_time_id,
            )
        if self._ready_since is None:
            self._ready_since = now
        return True

    def forward(
        self,
        source: object,
        packet: bytes,
        header_end: int,
        sequence_number: int,
        timestamp: int,
        keyframe_start: bool | None,
        now: float,
        recent: Sequence[RecentPacket] | None = None,
    ) -> None:
        """One publisher packet (unprotected; ``packet[header_end:]`` is its payload).

        ``recent``: the publisher's packets from its last keyframe's start up to (not
        including) this one, if it kept them: a subscriber waiting for a keyframe starts there.
        """
        if not self._video_allowed:
            return
        if source is not self._source:
            self._source = source
            self._rebase = True
            self._synced = self.kind != "video"
        # Already ready: checked in line, without a call per packet.
        ready = self._ready_since is not None and self._transceiver.currentDirection == "sendonly"
        if not ready and not self._ready(now):
            # Nothing reaches the subscriber yet: when it does, video starts at a keyframe.
            self._synced = self.kind != "video"
            return
        if not self._synced:
            assert self._ready_since is not None
            if now - self._ready_since < SETTLE_SECONDS:
                return  # asking now would bring a keyframe too early (and rate-limit the next)
            if not keyframe_start:
                if recent and self._may_replay(recent):
                    self._catch_up(source, recent, now)
                else:
                    self._request_keyframe()
                    return
            else:
                self._synced = True
                self._rebase = True
        if self._rebase:
            self._rebase_onto(sequence_number, timestamp)
        out_seq = (sequence_number + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
        self._send(packet, header_end, out_seq, out_ts, now)

    def _may_replay(self, recent: Sequence[RecentPacket]) -> bool:
        rate = self.ceiling.value if self.ceiling.estimated else START_CAP
        return sum(len(item[0]) for item in recent) * 8 <= rate * REPLAY_SECONDS

    def _catch_up(self, source: object, recent: Sequence[RecentPacket], now: float) -> None:
        """Start from the publisher's last keyframe: send what followed it, then go on live."""
        self._synced = True
        self._rebase = True
        for packet, header_end, sequence_number, timestamp, _ in recent:
            self.forward(source, packet, header_end, sequence_number, timestamp, None, now)

    def _rebase_onto(self, sequence_number: int, timestamp: int) -> None:
        # Continue the subscriber's lines from where the previous stream left them.
        self._rebase = False
        if self._last_seq is None or self._last_ts is None:
            return
        self._seq_offset = (self._last_seq + 1 - sequence_number) & 0xFFFF
        self._ts_offset = (self._last_ts + FRAME_TICKS[self.kind] - timestamp) & 0xFFFFFFFF

    def _send(self, packet: bytes, header_end: int, seq: int, ts: int, now: float) -> None:
        header = self._header
        assert header is not None
        out = header.rewrite(packet, header_end, seq, ts, now)
        self._history[seq % HISTORY_SIZE] = out
        if not self.transmit(out):
            return
        self._last_seq = seq
        self._last_ts = ts
        if self._video_since is None:
            self._video_since = time.monotonic()
        size = len(out) - header.size
        self._packets += 1
        self._octets += size
        counters = self._counters
        counters.rtp_forwarded_packets += 1
        counters.rtp_forwarded_bytes += size
        counters.forwarded_bytes += size
        if self.kind == "audio" or packet[1] & 0x80:
            counters.forwarded_packets += 1  # a whole frame is out (video: its marker packet)
        if now - self._reported_at >= REPORT_EVERY:
            self._reported_at = now
            record_sent(self._sender, ntp_now(now), ts, self._packets, self._octets)

    def transmit(self, packet: bytes) -> bool:
        """Send one packet as it is (SRTP-protected, on the nominated ICE pair); False when it
        could not go (no keys or pair yet, or the transport failed)."""
        try:
            return self._transmitter(packet)
        except (SrtpError, ValueError, OSError, RuntimeError) as exc:
            # One subscriber's broken transport must not reach the publisher or anyone else
            # (ValueError: a packet too long for SRTP).
            self._counters.rtp_send_errors += 1
            logger.debug("RTP send failed: %r", exc)
            return False

    def retransmit(self, sequence_number: int) -> None:
        """A NACKed packet again, wrapped in RTX (RFC 4588) when the m-line negotiated it."""
        packet = self._history[sequence_number % HISTORY_SIZE]
        params = self._params
        if packet is None or (packet[2] << 8) | packet[3] != sequence_number or params is None:
            return
        if params.rtx_payload_type is None:
            # Without RTX the same SRTP index would be protected twice, which libsrtp refuses.
            return
        try:
            header_end = header_length(packet)
        except ValueError:
            return
        self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        header: Any = bytearray(packet[:header_end])
        header[1] = (packet[1] & 0x80) | params.rtx_payload_type
        header[2:4] = self._rtx_seq.to_bytes(2, "big")
        header[8:12] = params.rtx_ssrc.to_bytes(4, "big")
        rtx = bytes(header) + sequence_number.to_bytes(2, "big") + packet[header_end:]
        if self.transmit(rtx):
            self._counters.rtp_retransmitted_packets += 1
