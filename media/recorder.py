"""Records one participant without re-encoding: their forwarded VP8 + Opus packets into WebM.

The forwarding path only pays for a ``put`` on a queue: timing (``sync.SourceSync``) and
muxing (``segment_writer.SegmentWriter``) run on one writer thread per recorder. The queue is
bounded; when the writer falls behind, packets are dropped and counted and video restarts at
the next keyframe. See docs/media.md, "Recording".
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, cast

import av
from aiortc.rtp import RtcpSrPacket

from media import remux
from media.feed import Feed
from media.hooks import RecordingFailed, SegmentWritten
from media.room import Room
from media.segment_writer import SegmentInfo, SegmentWriter
from media.storage import RecordingStorage
from media.sync import SourceSync, ntp_to_unix, report_pts
from media.timeline import RecordedSpan, Timeline

logger = logging.getLogger(__name__)

_CLOCK_RATES = {"video": 90000, "audio": 48000}
# How long the writer lets packets gather before it wakes (at most 2 x 50 packets per second).
_BATCH_SECONDS = 0.1


@dataclass(frozen=True)
class RecorderConfig:
    # Longest stretch a crash can lose; each segment costs a keyframe request.
    segment_seconds: float = 3.0
    # How long packets wait for the first sender reports before timing falls back to arrival.
    sync_wait: float = 2.0
    # ~5 s of one publisher's audio + video.
    queue_capacity: int = 400


@dataclass(frozen=True)
class RecordingResult:
    participant_id: str
    path: str
    duration: float
    sha256: str
    bytes: int
    # Session seconds recorded, each with where it begins in the file (pauses are left out).
    # The file begins with the first packet: ``starts_at`` seconds of recording after start().
    spans: tuple[RecordedSpan, ...]
    starts_at: float
    segments: int
    video_frames: int
    audio_frames: int


@dataclass
class RecorderStats:
    received: dict[str, int]
    written: dict[str, int]
    # Dropped because the writer fell behind (queue full).
    dropped: int
    segments: int
    # CPU seconds used by the writer thread (timing + muxing), the recorder's main cost.
    writer_cpu: float


def _file_spans(spans: tuple[RecordedSpan, ...], starts_at: float) -> tuple[RecordedSpan, ...]:
    """Spans as the final file has them: it starts with the first packet, not at start()."""
    result = []
    for span in spans:
        skipped = starts_at - span.file_start
        if skipped >= span.end - span.start:
            continue  # nothing of this span reached the file
        if skipped > 0:
            span = RecordedSpan(span.start + skipped, span.end, starts_at)
        result.append(RecordedSpan(span.start, span.end, span.file_start - starts_at))
    return tuple(result)


class _KindSink:
    """The recorder's sink on one feed (a ``PacketSink`` and ``SenderReportSink``)."""

    def __init__(self, recorder: ParticipantRecorder, kind: str) -> None:
        self._recorder = recorder
        self._kind = kind

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        self._recorder._on_packet(self._kind, packet, source)

    def on_sender_report(
        self, report: RtcpSrPacket, rtp_origin: int | None, source: object
    ) -> None:
        if rtp_origin is not None:
            pts = report_pts(report.sender_info.rtp_timestamp, rtp_origin)
            wallclock = ntp_to_unix(report.sender_info.ntp_timestamp)
            self._recorder._put(("report", self._kind, source, pts, wallclock))


class ParticipantRecorder:
    """One participant's recording in a room: start, pause/resume, stop, finalize.

    Follows the participant through reconnects (new segment at the new stream's first keyframe)
    and leave + rejoin (the room's new feeds are picked up); may be started before they join.
    """

    def __init__(
        self,
        room: Room,
        participant_id: str,
        storage: RecordingStorage,
        config: RecorderConfig | None = None,
    ) -> None:
        self.room = room
        self.participant_id = participant_id
        self.storage = storage
        self.config = config if config is not None else RecorderConfig()
        self.state = "idle"
        self._timeline = Timeline()
        self._origin = 0.0
        self._queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sinks = {kind: _KindSink(self, kind) for kind in _CLOCK_RATES}
        self._feeds: dict[str, Feed] = {}
        self._unwatch: Any = None
        self._segments: list[SegmentInfo] = []
        self.received = {"video": 0, "audio": 0}
        self.dropped = 0
        self._writer: SegmentWriter | None = None
        self._writer_cpu = 0.0

    # -- control (event loop) --------------------------------------------------------------

    def start(self) -> None:
        if self.state != "idle":
            raise RuntimeError(f"recorder for {self.participant_id} is {self.state}")
        self._loop = asyncio.get_running_loop()
        self._origin = time.time()
        self._timeline.begin(0.0)
        self.state = "recording"
        self._writer = SegmentWriter(
            self.storage,
            self.participant_id,
            self.config.segment_seconds,
            self._request_keyframe_threadsafe,
            self._segment_done,
        )
        self._thread = threading.Thread(
            target=self._work, name=f"recorder:{self.participant_id}", daemon=True
        )
        self._thread.start()
        self._unwatch = self.room.watch_feeds(self._feeds_created)
        feeds = self.room.feeds(self.participant_id)
        if feeds:
            self._attach(feeds)

    def pause(self) -> None:
        if self.state != "recording":
            return
        self.state = "paused"
        at = self._session_time()
        self._timeline.end(at)
        self._put(("pause", at))

    def resume(self) -> None:
        if self.state != "paused":
            return
        at = self._session_time()
        self._timeline.begin(at)
        self.state = "recording"
        self._put(("resume", at))
        # The writer needs a keyframe to restart video.
        self._request_keyframe()

    async def stop(self) -> None:
        if self.state in ("idle", "stopped"):
            return
        at = self._session_time()
        self._timeline.end(at)
        self.state = "stopped" if self.state != "failed" else "failed"
        self._detach()
        if self._unwatch is not None:
            self._unwatch()
        self._put(("stop", at))
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def finalize(self) -> RecordingResult:
        """Stop, then concatenate the segments into one WebM (remux, no re-encode)."""
        await self.stop()
        final = await asyncio.to_thread(remux.concatenate, self.storage, self.participant_id)
        starts_at = final.start_ms / 1000
        spans = _file_spans(self.spans, starts_at)
        result = RecordingResult(
            participant_id=self.participant_id,
            path=final.name,
            duration=final.duration,
            sha256=final.sha256,
            bytes=final.bytes,
            spans=spans,
            starts_at=starts_at,
            segments=final.segments,
            video_frames=final.video_packets,
            audio_frames=final.audio_packets,
        )
        manifest: dict[str, object] = {
            "participant_id": self.participant_id,
            "file": final.name,
            "duration": final.duration,
            "sha256": final.sha256,
            "bytes": final.bytes,
            "segments": final.segments,
            "starts_at": starts_at,
            "spans": [[s.start, s.end, s.file_start] for s in spans],
        }
        await asyncio.to_thread(self.storage.mark_finalized, self.participant_id, manifest)
        return result

    @property
    def spans(self) -> tuple[RecordedSpan, ...]:
        return self._timeline.spans(self._session_time())

    def stats(self) -> RecorderStats:
        written = dict(self._writer.written) if self._writer is not None else {}
        return RecorderStats(
            dict(self.received), written, self.dropped, len(self._segments), self._writer_cpu
        )

    def _session_time(self) -> float:
        return time.time() - self._origin

    # -- feeds (event loop) ----------------------------------------------------------------

    def _feeds_created(self, publisher_id: str, feeds: dict[str, Feed]) -> None:
        if publisher_id == self.participant_id and self.state in ("recording", "paused"):
            self._attach(feeds)

    def _attach(self, feeds: dict[str, Feed]) -> None:
        self._detach()
        self._feeds = {kind: feed for kind, feed in feeds.items() if kind in self._sinks}
        for kind, feed in self._feeds.items():
            # Adding a sink asks the publisher for a keyframe: the first segment starts on it.
            feed.add_sink(self._sinks[kind])

    def _detach(self) -> None:
        for kind, feed in self._feeds.items():
            feed.remove_sink(self._sinks[kind])
        self._feeds = {}

    def _request_keyframe(self) -> None:
        feed = self._feeds.get("video")
        if feed is not None:
            feed.request_keyframe()

    def _request_keyframe_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._request_keyframe)

    # -- forwarding path (event loop): as little as possible -------------------------------

    def _on_packet(self, kind: str, packet: av.Packet[Any], source: object) -> None:
        if self.state != "recording":
            return
        self.received[kind] += 1
        if self._queue.qsize() >= self.config.queue_capacity:
            self.dropped += 1
            self._lost.set()
            return
        self._queue.put(("packet", kind, source, packet, time.time()))

    def _put(self, item: tuple[Any, ...]) -> None:
        # Control items and sender reports are never dropped (few, and they matter).
        if self.state != "failed":
            self._queue.put(item)

    # -- writer thread ---------------------------------------------------------------------

    def _work(self) -> None:
        assert self._writer is not None
        writer = self._writer
        timeline = Timeline()
        timeline.begin(0.0)
        sync = self._new_sync()
        sources: dict[str, object] = {}

        def write_timed(timed: list[tuple[object, float]]) -> None:
            for item, at in timed:
                kind, packet = cast(tuple[str, "av.Packet[Any]"], item)
                at_ms = round(timeline.file_time(at - self._origin) * 1000)
                writer.write(kind, packet, at_ms)

        try:
            while True:
                if self._queue.empty():
                    self._writer_cpu = time.thread_time()
                    # Work in batches: each wake-up costs the event loop a GIL hand-off.
                    time.sleep(_BATCH_SECONDS)
                item = self._queue.get()
                match item:
                    case ("packet", str(kind), source, packet, float(arrival)):
                        if self._lost.is_set():
                            self._lost.clear()
                            writer.resync()
                        if sources.get(kind) is not source:
                            if kind in sources:
                                # A reconnect: new timestamps, new clocks, new segment.
                                write_timed(sync.release())
                                sync = self._new_sync()
                                writer.resync()
                            sources[kind] = source
                        write_timed(sync.hold(kind, packet.pts, arrival, (kind, packet)))
                    case ("report", str(kind), source, int(pts), float(wallclock)):
                        if sources.get(kind) is source or kind not in sources:
                            sync.on_report(kind, pts, wallclock)
                    case ("pause", float(at)):
                        write_timed(sync.release())
                        timeline.end(at)
                        writer.close_segment()
                        writer.resync()
                    case ("resume", float(at)):
                        timeline.begin(at)
                    case ("stop", float(at)):
                        write_timed(sync.release())
                        timeline.end(at)
                        writer.close_segment()
                        return
        except Exception as exc:
            logger.exception("recording %s failed", self.participant_id)
            self.state = "failed"
            writer.abort()
            self._emit(RecordingFailed(self.room.room_id, self.participant_id, repr(exc)))
        finally:
            self._writer_cpu = time.thread_time()

    def _new_sync(self) -> SourceSync:
        return SourceSync(dict(_CLOCK_RATES), self.config.sync_wait)

    def _segment_done(self, info: SegmentInfo) -> None:
        self._segments.append(info)
        self._emit(
            SegmentWritten(
                self.room.room_id,
                self.participant_id,
                info.name,
                info.kinds,
                info.first_ms / 1000,
                info.last_ms / 1000,
                info.bytes,
            )
        )

    def _emit(self, event: SegmentWritten | RecordingFailed) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.room.emit, event)
