"""Records one participant without re-encoding: their forwarded VP8 + Opus packets into WebM.

The forwarding path only appends each packet, with its arrival time, to a deque. One writer
thread per recorder wakes every half second (at once for pause, resume and stop), takes what
gathered, and does the timing (``sync.SourceSync``) and the muxing
(``segment_writer.SegmentWriter``). The deque is bounded; when the writer falls behind, packets
are dropped and counted and video restarts at the next keyframe. See docs/media.md, "Recording".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
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
from media.timeline import RecordedSpan, Timeline, file_spans

logger = logging.getLogger(__name__)

_CLOCK_RATES = {"video": 90000, "audio": 48000}
# How long packets gather before the writer wakes. Each wake-up is a GIL hand-off the event
# loop may wait for, and work on cold caches: with 8 recorders, writers waking every 0.1 s used
# ~2x the CPU of the same work done in one go, every 0.5 s ~1.3x, every 1 s no less. A crash
# also loses what gathered (at most this long).
_BATCH_SECONDS = 0.5
# Marks where the loop dropped packets (deque full): the writer restarts video there.
_GAP = ("gap",)


@dataclass(frozen=True)
class RecorderConfig:
    # About the longest stretch a crash can lose (with what the writer has not taken yet);
    # each segment costs a keyframe request.
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


class _KindSink:
    """The recorder's sink on one feed (a ``PacketSink`` and ``SenderReportSink``)."""

    def __init__(self, recorder: ParticipantRecorder, kind: str) -> None:
        self._recorder = recorder
        self._kind = kind

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        self._recorder._take(self._kind, packet, source)

    def on_sender_report(
        self, report: RtcpSrPacket, rtp_origin: int | None, source: object
    ) -> None:
        if rtp_origin is not None:
            pts = report_pts(report.sender_info.rtp_timestamp, rtp_origin)
            wallclock = ntp_to_unix(report.sender_info.ntp_timestamp)
            self._recorder._put(("report", self._kind, source, pts, wallclock))


class _Work:
    """The writer thread's side: times each packet, places it on the recording's timeline and
    hands it to the segment writer, in the order the event loop queued everything."""

    def __init__(self, writer: SegmentWriter, origin: float, sync_wait: float) -> None:
        self.writer = writer
        self._origin = origin
        self._sync_wait = sync_wait
        self._timeline = Timeline()
        self._timeline.begin(0.0)
        self._sync = self._new_sync()
        self._sources: dict[str, object] = {}
        self.stopped = False

    def _new_sync(self) -> SourceSync:
        return SourceSync(dict(_CLOCK_RATES), self._sync_wait)

    def packet(self, kind: str, source: object, packet: av.Packet[Any], arrival: float) -> None:
        if self._sources.get(kind) is not source:
            self._new_source(kind, source)
        pts = packet.pts
        assert pts is not None  # a feed's packets always have one (PacketSink)
        if self._sync.released:
            self._write(kind, packet, self._sync.time_of(kind, pts, arrival))
        else:
            self._write_timed(self._sync.hold(kind, pts, arrival, (kind, packet)))

    def _new_source(self, kind: str, source: object) -> None:
        if kind in self._sources:
            # A reconnect: new timestamps, new clocks, new segment.
            self._write_timed(self._sync.release())
            self._sync = self._new_sync()
            self.writer.resync()
        self._sources[kind] = source

    def _write(self, kind: str, packet: av.Packet[Any], at: float) -> None:
        at_ms = round(self._timeline.file_time(at - self._origin) * 1000)
        self.writer.write(kind, packet, at_ms)

    def _write_timed(self, timed: list[tuple[object, float]]) -> None:
        for item, at in timed:
            kind, packet = cast(tuple[str, "av.Packet[Any]"], item)  # what packet() held
            self._write(kind, packet, at)

    def control(self, item: tuple[Any, ...]) -> None:
        match item:
            case ("report", str(kind), source, int(pts), float(wallclock)):
                if self._sources.get(kind) is source or kind not in self._sources:
                    self._sync.on_report(kind, pts, wallclock)
            case ("gap",):
                self.writer.resync()
            case ("pause", float(at)):
                self._end(at)
                self.writer.resync()
            case ("resume", float(at)):
                self._timeline.begin(at)
            case ("stop", float(at)):
                self._end(at)
                self.stopped = True

    def _end(self, at: float) -> None:
        self._write_timed(self._sync.release())
        self._timeline.end(at)
        self.writer.close_segment()


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
        # Loop -> writer thread. deque.append and popleft are atomic: no lock, no notify.
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._capacity = self.config.queue_capacity
        self._gap_marked = False
        self._wake = threading.Event()
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
        self._put(("pause", at), wake=True)

    def resume(self) -> None:
        if self.state != "paused":
            return
        at = self._session_time()
        self._timeline.begin(at)
        self.state = "recording"
        self._put(("resume", at), wake=True)
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
        self._put(("stop", at), wake=True)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def finalize(self) -> RecordingResult:
        """Stop, then concatenate the segments into one WebM (remux, no re-encode)."""
        await self.stop()
        final = await asyncio.to_thread(remux.concatenate, self.storage, self.participant_id)
        starts_at = final.start_ms / 1000
        spans = file_spans(self.spans, starts_at)
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

    def _take(self, kind: str, packet: av.Packet[Any], source: object) -> None:
        if self.state != "recording":
            return
        self.received[kind] += 1
        if len(self._inbox) < self._capacity:
            self._inbox.append((kind, source, packet, time.time()))
        else:
            self._drop()

    def _drop(self) -> None:
        self.dropped += 1
        if not self._gap_marked:
            # One mark per stretch of drops (the writer clears it when it gets there).
            self._gap_marked = True
            self._inbox.append(_GAP)

    def _put(self, item: tuple[Any, ...], wake: bool = False) -> None:
        # Control items and sender reports are never dropped (few, and they matter).
        if self.state != "failed":
            self._inbox.append(item)
            if wake:
                self._wake.set()

    # -- writer thread ---------------------------------------------------------------------

    def _work(self) -> None:
        assert self._writer is not None
        work = _Work(self._writer, self._origin, self.config.sync_wait)
        try:
            while not work.stopped:
                # Packets alone never wake the writer: it takes them in batches.
                self._wake.wait(_BATCH_SECONDS)
                self._wake.clear()
                self._drain(work)
                self._writer_cpu = time.thread_time()
        except Exception as exc:
            logger.exception("recording %s failed", self.participant_id)
            self.state = "failed"
            work.writer.abort()
            self._emit(RecordingFailed(self.room.room_id, self.participant_id, repr(exc)))
        finally:
            self._writer_cpu = time.thread_time()

    def _drain(self, work: _Work) -> None:
        inbox = self._inbox
        for _ in range(len(inbox)):
            item = inbox.popleft()
            if item[0] in _CLOCK_RATES:
                work.packet(*item)
                continue
            if item is _GAP:
                self._gap_marked = False
            work.control(item)
            if work.stopped:
                return

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
