"""A publisher's track of one kind, fanned out to its subscribers, recorders and frame taps.

The feed outlives the publisher's connection: on reconnect it takes the new receiver and every
sink keeps its place. It also rate-limits the keyframe requests sent to the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import av
from aiortc import MediaStreamError, RTCRtpReceiver, RTCRtpTransceiver

from media import negotiation
from media.aiortc import (
    PassthroughTrack,
    RtcpSrPacket,
    on_sender_report,
    request_keyframe,
    rtp_timestamp_origin,
)
from media.hooks import KeyframeReceived, MediaEvent, TrackPublished
from media.rtp.ingress import Ingress
from media.rtp.instream import InStream, InStreamEvents
from media.rtp.outstream import OutStream
from media.sinks import PacketSink, RtpSink, SenderReportSink
from media.stats import Counters

logger = logging.getLogger(__name__)


class Feed:
    """One publisher's track of one kind, fanned out to sinks.

    Outlives the publisher's peer connection: on reconnect a new source is attached and every
    sink keeps its place, so subscribers keep their m-lines and see the new stream.

    Two ways to forward (``RelayConfig.forwarding``): ``"rtp"`` (the default) takes the
    publisher's packets off the connection and sends each to the subscribers' ``OutStream``
    objects as it arrives (media/rtp/); recorders (``RtpSink``) get the same packets, other
    sinks (the frame tap) frames assembled from them. ``"frames"`` goes through aiortc's
    receiver and senders: complete frames from a pass-through receiver, each subscriber's
    sender re-packetizing them.
    """

    def __init__(
        self,
        publisher_id: str,
        kind: str,
        counters: Counters,
        keyframe_interval: float,
        *,
        room_id: str = "",
        emit: Callable[[MediaEvent], None] | None = None,
        rtp_level: bool = False,
    ) -> None:
        self.publisher_id = publisher_id
        self.room_id = room_id
        self._emit = emit
        self.kind = kind
        self._counters = counters
        self._keyframe_interval = keyframe_interval
        self._sinks: list[PacketSink] = []
        self._outs: list[OutStream] = []
        self._rtp_level = rtp_level
        self._stream: InStream | None = None
        self._published = False
        self._receiver: RTCRtpReceiver | None = None
        self._pump: asyncio.Task[None] | None = None
        self._source: object = object()
        self._last_pli: float | None = None
        self._pli_timer: asyncio.TimerHandle | None = None
        self.packets_in = 0

    @property
    def sinks(self) -> tuple[PacketSink, ...]:
        return tuple(self._sinks)

    @property
    def rtp_level(self) -> bool:
        return self._rtp_level

    @property
    def stream(self) -> InStream | None:
        """The publisher's track at the RTP level (``rtp_level`` feeds, once attached)."""
        return self._stream

    def add_sink(self, sink: PacketSink) -> None:
        if sink not in self._sinks:
            self._sinks.append(sink)
        self._update_stream()
        self.request_keyframe()

    def remove_sink(self, sink: PacketSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        self._update_stream()

    def add_out(self, out: OutStream) -> None:
        """A subscriber's RTP-level stream (``rtp_level`` feeds only)."""
        if out not in self._outs:
            self._outs.append(out)
        out.set_estimate_listener(self._regulate)
        self._update_stream()
        # A new subscriber changes what the publisher may send: say so at once.
        self._regulate()
        # No keyframe request yet: the stream asks once the subscriber can take it.

    def remove_out(self, out: OutStream) -> None:
        if out in self._outs:
            self._outs.remove(out)
            out.set_estimate_listener(None)
        self._update_stream()
        self._regulate()

    def _regulate(self) -> None:
        if self._stream is not None:
            self._stream.regulate()

    def _update_stream(self) -> None:
        if self._stream is not None:
            self._stream.outs = tuple(self._outs)
            taps = tuple(sink for sink in self._sinks if isinstance(sink, RtpSink))
            self._stream.taps = taps
            self._stream.want_frames(len(taps) < len(self._sinks))

    def attach(self, transceiver: RTCRtpTransceiver, track: PassthroughTrack) -> None:
        """Start forwarding from a (new) receiver; a previous one is abandoned."""
        self._stop_pump()
        receiver = transceiver.receiver
        self._receiver = receiver
        self._last_pli = None
        self._published = False
        if self._rtp_level:
            stream = self._attach_stream(transceiver)
            self._source = stream.source
        else:
            self._source = object()
        self._pump = asyncio.create_task(
            self._run(track, self._source), name=f"feed:{self.publisher_id}:{self.kind}"
        )
        source = self._source
        on_sender_report(receiver, lambda report: self._on_sender_report(receiver, report, source))
        self.request_keyframe()

    def _attach_stream(self, transceiver: RTCRtpTransceiver) -> InStream:
        events = InStreamEvents(
            first_packet=self._on_first_packet,
            keyframe=self._on_keyframe,
            frame=self._deliver_frame,
            request_keyframe=self.request_keyframe,
        )
        stream = InStream(self.kind, transceiver, self._counters, events)
        self._stream = stream
        self._update_stream()
        Ingress.of(transceiver.receiver.transport, self._counters).register(stream)
        return stream

    def _detach_stream(self) -> None:
        stream = self._stream
        if stream is not None:
            self._stream = None
            Ingress.of(stream.receiver.transport, self._counters).unregister(stream)
            stream.close()

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe, at most once per interval (later asks are merged)."""
        if self.kind != "video" or self._receiver is None or self._pli_timer is not None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._last_pli is None or now - self._last_pli >= self._keyframe_interval:
            self._send_pli()
        else:
            delay = self._keyframe_interval - (now - self._last_pli)
            self._pli_timer = loop.call_later(delay, self._send_pli)

    def _send_pli(self) -> None:
        self._pli_timer = None
        if self._receiver is None:
            return
        # Before the first packet the publisher's SSRC is unknown: nothing to ask yet, and the
        # next packet's sink asks again.
        if self._stream is not None:
            sent = self._stream.send_pli()
        else:
            sent = request_keyframe(self._receiver)
        if sent:
            self._counters.keyframe_requests += 1
            self._last_pli = asyncio.get_running_loop().time()

    def _on_sender_report(
        self, receiver: RTCRtpReceiver, report: RtcpSrPacket, source: object
    ) -> None:
        if source is not self._source:
            return
        if self._stream is not None:
            self._stream.on_sender_report(report)
            origin = self._stream.rtp_origin
        else:
            origin = rtp_timestamp_origin(receiver)
        for sink in tuple(self._sinks):
            if isinstance(sink, SenderReportSink):
                sink.on_sender_report(report, origin, source)

    def _on_first_packet(self) -> None:
        if self._emit is not None and not self._published:
            self._published = True
            codec = negotiation.FORCED_MIME_TYPES[self.kind].split("/")[1]
            self._emit(TrackPublished(self.room_id, self.publisher_id, self.kind, codec))

    def _on_keyframe(self) -> None:
        if self._emit is not None and self.kind == "video":
            self._emit(KeyframeReceived(self.room_id, self.publisher_id, self.kind))

    def _deliver_frame(self, item: av.Packet[Any]) -> None:
        self.packets_in += 1
        source = self._source
        rtp_level = self._stream is not None
        for sink in tuple(self._sinks):
            if rtp_level and isinstance(sink, RtpSink):
                continue  # a tap of the stream: has this frame's packets already
            try:
                sink.on_packet(item, source)
            except Exception:
                logger.exception("sink %r failed on %s/%s", sink, self.publisher_id, self.kind)

    async def _run(self, track: PassthroughTrack, source: object) -> None:
        while True:
            try:
                item = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(item, av.Packet):
                # A decoded frame means the receiver was not switched to pass-through.
                self._counters.decode_calls += 1
                continue
            if self._rtp_level:
                # A packet that reached aiortc's receiver before the RTP-level path knew its
                # SSRC: its stream starts with the next packet.
                continue
            self._on_first_packet()
            if item.is_keyframe:
                self._on_keyframe()
            self._deliver_frame(item)

    def _stop_pump(self) -> None:
        self._detach_stream()
        if self._pump is not None:
            self._pump.cancel()
        if self._pli_timer is not None:
            self._pli_timer.cancel()
            self._pli_timer = None

    async def close(self) -> None:
        pump = self._pump
        self._stop_pump()
        self._pump = None
        self._receiver = None
        self._sinks.clear()
        self._outs.clear()
        if pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
