from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import av
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpSrPacket

from media import aiortc_compat, negotiation
from media.aiortc_compat import PassthroughTrack
from media.hooks import KeyframeReceived, MediaEvent, TrackPublished
from media.sinks import PacketSink, SenderReportSink
from media.stats import Counters

logger = logging.getLogger(__name__)


class Feed:
    """One publisher's track of one kind, fanned out to sinks.

    Outlives the publisher's peer connection: on reconnect a new source is attached and every
    sink keeps its place, so subscribers keep their m-lines and see the new stream.
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
    ) -> None:
        self.publisher_id = publisher_id
        self.room_id = room_id
        self._emit = emit
        self.kind = kind
        self._counters = counters
        self._keyframe_interval = keyframe_interval
        self._sinks: list[PacketSink] = []
        self._receiver: RTCRtpReceiver | None = None
        self._pump: asyncio.Task[None] | None = None
        self._source: object = object()
        self._last_pli: float | None = None
        self._pli_timer: asyncio.TimerHandle | None = None
        self.packets_in = 0

    @property
    def sinks(self) -> tuple[PacketSink, ...]:
        return tuple(self._sinks)

    def add_sink(self, sink: PacketSink) -> None:
        if sink not in self._sinks:
            self._sinks.append(sink)
        self.request_keyframe()

    def remove_sink(self, sink: PacketSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def attach(self, receiver: RTCRtpReceiver, track: PassthroughTrack) -> None:
        """Start forwarding from a (new) receiver; a previous one is abandoned."""
        self._stop_pump()
        self._receiver = receiver
        self._source = object()
        self._last_pli = None
        self._pump = asyncio.create_task(
            self._run(track, self._source), name=f"feed:{self.publisher_id}:{self.kind}"
        )
        source = self._source
        aiortc_compat.on_sender_report(
            receiver, lambda report: self._on_sender_report(receiver, report, source)
        )
        self.request_keyframe()

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
        if aiortc_compat.send_pli(self._receiver):
            self._counters.keyframe_requests += 1
            self._last_pli = asyncio.get_running_loop().time()

    def _on_sender_report(
        self, receiver: RTCRtpReceiver, report: RtcpSrPacket, source: object
    ) -> None:
        if source is not self._source:
            return
        origin = aiortc_compat.rtp_timestamp_origin(receiver)
        for sink in tuple(self._sinks):
            if isinstance(sink, SenderReportSink):
                sink.on_sender_report(report, origin, source)

    async def _run(self, track: PassthroughTrack, source: object) -> None:
        published = False
        while True:
            try:
                item = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(item, av.Packet):
                # A decoded frame means the receiver was not switched to pass-through.
                self._counters.decode_calls += 1
                continue
            self.packets_in += 1
            if self._emit is not None:
                if not published:
                    published = True
                    codec = negotiation.FORCED_MIME_TYPES[self.kind].split("/")[1]
                    self._emit(TrackPublished(self.room_id, self.publisher_id, self.kind, codec))
                if self.kind == "video" and item.is_keyframe:
                    self._emit(KeyframeReceived(self.room_id, self.publisher_id, self.kind))
            for sink in tuple(self._sinks):
                try:
                    sink.on_packet(item, source)
                except Exception:
                    logger.exception("sink %r failed on %s/%s", sink, self.publisher_id, self.kind)

    def _stop_pump(self) -> None:
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
        if pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
