"""One publisher's track as it arrives at the RTP level, fanned out to subscribers' streams."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCRtpReceiver, RTCRtpTransceiver

from media.aiortc import (
    RtcpSrPacket,
    log_task_error,
    receive_codecs,
    receiver_report,
    remb,
    rtcp_ssrc,
    send_nack,
    send_pli,
    send_rtcp,
)
from media.rtp.congestion import CapSender, publisher_cap
from media.rtp.feedback import NackList, ReceptionStats
from media.rtp.frames import CLOCK_RATES, AudioFrames, Timeline, VideoFrames
from media.rtp.outstream import OutStream, RecentPacket
from media.rtp.wire import header_length, payload_end, vp8_frame_start
from media.sinks import RtpSink
from media.stats import Counters

# Packets kept since the publisher's last keyframe started (video), so a subscriber that becomes
# ready can start from that keyframe at once instead of asking for a new one (~1 s of 1 Mbps).
RECENT_LIMIT = 128
# A loss still unrepaired this long after it was NACKed will not be: while a recorder takes the
# packets, the publisher is asked for a keyframe (a recording resumes only on one).
REPAIR_WAIT = 1.0
# The stream's rate (for the congestion policy) is measured over this long at least.
RATE_SECONDS = 2.0


@dataclass
class InStreamEvents:
    """What the feed that owns the stream wants to hear about."""

    first_packet: Callable[[], None]
    keyframe: Callable[[], None]
    frame: Callable[[av.Packet[Any]], None]
    request_keyframe: Callable[[], None]


class InStream:
    """A publisher's track: every packet goes to each subscriber's ``OutStream`` as it arrives.

    Keeps what aiortc's receiver would have kept for these packets: reception statistics for
    receiver reports, NACKs for lost video packets (retransmissions come back over RTX and are
    forwarded like the original), the time of the last sender report. Applies the congestion
    policy (media/rtp/congestion.py): the subscribers' bandwidth estimates go on to the
    publisher as one REMB cap, and observers whose link cannot carry the video are switched
    to audio. Hands every packet to its taps (recorders); assembles complete frames only
    while a frame-level sink (the frame tap) wants them.
    """

    def __init__(
        self,
        kind: str,
        transceiver: RTCRtpTransceiver,
        counters: Counters,
        events: InStreamEvents,
    ) -> None:
        self.kind = kind
        self._receiver: RTCRtpReceiver = transceiver.receiver
        self._transceiver = transceiver
        self._counters = counters
        self._events = events
        self.source = object()
        self.outs: tuple[OutStream, ...] = ()
        # Sinks that take the packets themselves (recorders).
        self.taps: tuple[RtpSink, ...] = ()
        self.media_ssrc: int | None = None
        self._media_types: frozenset[int] | None = None
        self._stats = ReceptionStats(CLOCK_RATES[kind])
        self._nacks = NackList() if kind == "video" else None
        self._timeline = Timeline()
        self._frames: AudioFrames | VideoFrames | None = None
        self._recent: list[RecentPacket] | None = None
        self._lsr = 0
        self._lsr_time: float | None = None
        self._rtcp: asyncio.Task[None] | None = None
        self._closed = False
        # The stream's payload rate as it arrives (bits/s, over RATE_SECONDS), for the policy.
        self._octets = 0
        self._rate = 0.0
        self._rated: tuple[float, int] | None = None
        self._cap = CapSender()

    @property
    def receiver(self) -> RTCRtpReceiver:
        return self._receiver

    @property
    def rtp_origin(self) -> int | None:
        """The raw RTP timestamp that frame pts 0 stands for (None before any media)."""
        return self._timeline.origin

    def want_frames(self, wanted: bool) -> None:
        if not wanted:
            self._frames = None
        elif self._frames is None:
            frame = self._events.frame
            if self.kind == "video":
                self._frames = VideoFrames(self._timeline, frame, self._events.request_keyframe)
            else:
                self._frames = AudioFrames(self._timeline, frame)

    def on_rtp(self, packet: bytes, rtx: bool) -> None:
        """One unprotected packet from the publisher (``rtx``: it came on the RTX SSRC)."""
        now = time.time()
        try:
            start = header_length(packet)
            end = payload_end(packet)
        except (ValueError, IndexError):
            self._counters.rtp_malformed_packets += 1
            return
        if rtx:
            if end - start < 2:
                return  # padding-only probe: nothing to forward
            seq = int.from_bytes(packet[start : start + 2], "big")
            if self._nacks is not None and seq not in self._nacks.missing:
                # Not a repair the relay asked for: a copy of a packet already here, which is
                # how Chromium probes its uplink (the transport feedback has counted it).
                return
            packet = packet[:start] + packet[start + 2 :]
            end -= 2
        else:
            if not self._accepts(packet[1] & 0x7F):
                self._counters.rtp_malformed_packets += 1
                return
            seq = (packet[2] << 8) | packet[3]
        timestamp = int.from_bytes(packet[4:8], "big")
        if self.media_ssrc is None and not rtx:  # the stream's first media packet
            self._start(packet)
        if not rtx:
            self._stats.add(seq, timestamp, now)
        frame_start: bool | None = None
        if self._nacks is not None:
            if self._nacks.add(seq) and self.media_ssrc is not None:
                self._send_nack()
                if self.taps:
                    self._watch_repair()
            frame_start = vp8_frame_start(packet, start, end)
            if frame_start:
                self._events.keyframe()
        self._counters.rtp_received_packets += 1
        self._octets += end - start
        if frame_start:
            self._recent = []
        recent = self._recent
        for out in self.outs:
            out.forward(self.source, packet, start, seq, timestamp, frame_start, now, recent)
        if recent is not None:
            if len(recent) < RECENT_LIMIT:
                recent.append((packet, start, seq, timestamp, frame_start))
            else:
                self._recent = None  # too long ago: a new subscriber asks for a keyframe
        for tap in self.taps:
            tap.on_rtp(packet, seq, now, self.source)
        frames = self._frames
        if frames is not None:
            if isinstance(frames, VideoFrames):
                frames.add(packet, start, end, seq, timestamp, frame_start)
            else:
                frames.add(packet, start, end, seq, timestamp)

    def _accepts(self, payload_type: int) -> bool:
        if self._media_types is None:
            self._media_types = receive_codecs(self._transceiver).media
        return payload_type in self._media_types

    def _start(self, packet: bytes) -> None:
        self.media_ssrc = int.from_bytes(packet[8:12], "big")
        self._timeline.start(int.from_bytes(packet[4:8], "big"))
        self._rtcp = asyncio.ensure_future(self._run_rtcp())
        self._events.first_packet()

    def on_sender_report(self, report: RtcpSrPacket) -> None:
        self._lsr = (report.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_time = time.time()

    def send_pli(self) -> bool:
        if self.media_ssrc is None:
            return False
        self._spawn(send_pli(self._receiver, self.media_ssrc))
        return True

    def _send_nack(self) -> None:
        assert self._nacks is not None
        assert self.media_ssrc is not None
        self._counters.rtp_nacks_sent += 1
        lost = sorted(self._nacks.missing)
        self._spawn(send_nack(self._receiver, self.media_ssrc, lost))

    def _watch_repair(self) -> None:
        assert self._nacks is not None
        lost = frozenset(self._nacks.missing)
        asyncio.get_running_loop().call_later(REPAIR_WAIT, self._check_repair, lost)

    def _check_repair(self, lost: frozenset[int]) -> None:
        if self._closed or self._nacks is None or not self.taps:
            return
        if not lost.isdisjoint(self._nacks.missing):
            self._events.request_keyframe()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(log_task_error)

    async def _run_rtcp(self) -> None:
        # Same cadence as aiortc's receiver: every 0.5-1.5 s.
        while not self._closed:
            await asyncio.sleep(0.5 + random.random())  # noqa: S311  # timing jitter, not secrets
            await self._send_reports()

    async def _send_reports(self) -> None:
        source = rtcp_ssrc(self._receiver)
        reception = self._stats.report()
        if source is None or reception is None or self.media_ssrc is None:
            return
        dlsr = 0
        if self._lsr_time is not None:
            delay = time.time() - self._lsr_time
            if 0 < delay < 65536:
                dlsr = int(delay * 65536)
        report = receiver_report(
            source,
            self.media_ssrc,
            fraction_lost=reception.fraction_lost,
            packets_lost=reception.packets_lost,
            highest_sequence=reception.highest_sequence,
            jitter=reception.jitter,
            lsr=self._lsr,
            dlsr=dlsr,
        )
        await send_rtcp(self._receiver, report)
        self.regulate()

    def regulate(self) -> None:
        """Apply the congestion policy now (each report, and whenever an estimate arrives)."""
        if self.kind != "video" or self.media_ssrc is None or self._closed:
            return
        source = rtcp_ssrc(self._receiver)
        if source is None:
            return
        now = time.monotonic()
        self._measure_rate(now)
        outs = self.outs
        for out in outs:
            estimate = out.take_estimate()
            if estimate is not None:
                out.ceiling.estimate(estimate, self._rate, now)
        cap = publisher_cap(outs, now)
        if self._cap.due(cap, now):
            self._spawn(send_rtcp(self._receiver, remb(source, cap, [self.media_ssrc])))
        for out in outs:
            if out.gate is not None:
                out.allow_video(out.gate.update(out.estimate(), out.estimated_at, self._rate, now))

    def _measure_rate(self, now: float) -> None:
        # Over at least RATE_SECONDS: a keyframe inside a short interval would look like a rate
        # several times the stream's, and an estimate below it like congestion.
        if self._rated is None:
            self._rated = (now, self._octets)
            return
        since, octets = self._rated
        if now - since >= RATE_SECONDS:
            self._rate = (self._octets - octets) * 8 / (now - since)
            self._rated = (now, self._octets)

    def close(self) -> None:
        self._closed = True
        self.outs = ()
        self.taps = ()
        self._frames = None
        if self._rtcp is not None:
            self._rtcp.cancel()
