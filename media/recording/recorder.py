"""Records one participant without re-encoding: their forwarded VP8 + Opus into WebM.

During the call the recorder only keeps what it receives: the forwarding path appends each
packet (RTP-level path: the publisher's RTP packet; frame-level path: the encoded frame), with
its arrival time, to a deque, and the relay's journal writer thread, shared by its recorders
(``media.recording.writer``), appends what gathered to each participant's journal
(``media.recording.journal``) every half second.
Frames, timing and WebM are built from the journal once the recording stops
(``media.recording.replay``), so a recorded call costs the relay little more than an
unrecorded one, and a crash loses at most the last half second (``recover`` builds such a
file).
The deque is bounded; when the writer falls behind, packets are dropped and counted, a gap is
journaled, and the publisher is asked for a keyframe to restart video on. See docs/media.md,
"Recording".
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import av

from media.aiortc import RtcpSrPacket
from media.feed import Feed
from media.hooks import RecordingFailed, SegmentWritten
from media.recording import journal, replay
from media.recording.replay import ReplayConfig
from media.recording.segment_writer import SegmentInfo
from media.recording.storage import LocalDirectoryStorage, RecordingStorage
from media.recording.sync import ntp_to_unix
from media.recording.timeline import RecordedSpan, Timeline, file_spans
from media.room import Room

logger = logging.getLogger(__name__)

_KINDS = ("video", "audio")
# Marks where the loop dropped packets (deque full).
_GAP = ("gap",)


@dataclass(frozen=True)
class RecorderConfig:
    # Segments of the built recording start at the first keyframe after this long.
    segment_seconds: float = 3.0
    # How long packets wait for the first sender reports before timing falls back to arrival.
    sync_wait: float = 2.0
    # Packets (RTP-level path) or frames held for the writer: ~10 s of one publisher at 1 Mbps.
    queue_capacity: int = 1500
    # How often the journal is forced to disk (each write is flushed to the OS at once).
    fsync_seconds: float = 3.0


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
    # Packets (or frames, on the frame-level path) taken during the call, and journaled.
    received: dict[str, int]
    journaled: dict[str, int]
    # Dropped because the writer fell behind (queue full).
    dropped: int
    # CPU seconds the writer thread spent on this recorder's journal.
    writer_cpu: float
    # Once finalized: frames in the file, and its segments.
    written: dict[str, int]
    segments: int


class _KindSink:
    """The recorder's sink on one feed: an ``RtpSink`` (RTP-level path), a ``PacketSink``
    (frame-level path) and a ``SenderReportSink``."""

    def __init__(
        self,
        recorder: ParticipantRecorder,
        kind: str,
        inbox: deque[tuple[Any, ...]],
        capacity: int,
        drop: Callable[[], None],
        put: Callable[[tuple[Any, ...]], None],
    ) -> None:
        self._recorder = recorder
        self._kind = kind
        # The recorder's inbox and its other parts, bound here: on_rtp runs for every packet.
        self._inbox = inbox
        self._capacity = capacity
        self._drop = drop
        self._put = put

    def on_rtp(self, packet: bytes, seq: int, arrival: float, source: object) -> None:
        recorder = self._recorder
        if recorder.state != "recording":
            return
        recorder.received[self._kind] += 1
        if len(self._inbox) < self._capacity:
            self._inbox.append((self._kind, source, arrival, seq, packet))
        else:
            self._drop()

    def on_packet(self, packet: av.Packet[Any], source: object) -> None:
        recorder = self._recorder
        if recorder.state != "recording":
            return
        recorder.received[self._kind] += 1
        if len(self._inbox) < self._capacity:
            self._inbox.append((self._kind, source, time.time(), packet))
        else:
            self._drop()

    def on_sender_report(
        self, report: RtcpSrPacket, rtp_origin: int | None, source: object
    ) -> None:
        info = report.sender_info
        wallclock = ntp_to_unix(info.ntp_timestamp)
        self._put(
            ("report", self._kind, source, time.time(), info.rtp_timestamp, rtp_origin, wallclock)
        )


class _JournalRecords:
    """The writer thread's side: turns what the loop queued into journal records."""

    def __init__(self) -> None:
        self._sources: dict[object, int] = {}
        self.journaled = {"video": 0, "audio": 0}
        self.stopped = False

    def _source(self, source: object) -> int:
        number = self._sources.get(source)
        if number is None:
            number = self._sources[source] = len(self._sources)
        return number

    def drain(self, inbox: deque[tuple[Any, ...]], out: list[bytes]) -> bool:
        """Everything queued so far, as records (an RTP packet's head and bytes kept apart:
        one join copies them). True if a gap mark was taken."""
        pack = journal.RTP_HEAD.pack
        head_body = journal.RTP_HEAD_BODY
        codes = journal.KIND_CODES
        sources = self._sources
        journaled = self.journaled
        append = out.append
        gap = False
        for _ in range(len(inbox)):
            item = inbox.popleft()
            if len(item) == 5:  # the RTP-level path's packets: nearly everything
                kind, source, arrival, seq, packet = item
                number = sources.get(source)
                if number is None:
                    number = self._source(source)
                append(
                    pack(head_body + len(packet), journal.RTP, codes[kind], number, arrival, seq)
                )
                append(packet)
                journaled[kind] += 1
                continue
            gap = gap or item is _GAP
            self._other(item, out)
            if self.stopped:
                break
        return gap

    def _other(self, item: tuple[Any, ...], out: list[bytes]) -> None:
        match item:
            case (str(kind), source, float(arrival), frame) if kind in _KINDS:
                pts = frame.pts if frame.pts is not None else 0
                number = self._source(source)
                out.append(
                    journal.frame(kind, number, arrival, pts, frame.is_keyframe, bytes(frame))
                )
                self.journaled[kind] += 1
            case ("report", str(kind), source, float(arrival), int(rtp_ts), origin, float(wall)):
                number = self._source(source)
                out.append(journal.report(kind, number, arrival, rtp_ts, origin, wall))
            case ("gap",):
                out.append(journal.control(journal.GAP, 0.0))
            case ("pause", float(at)):
                out.append(journal.control(journal.PAUSE, at))
            case ("resume", float(at)):
                out.append(journal.control(journal.RESUME, at))
            case ("stop", float(at)):
                out.append(journal.control(journal.STOP, at))
                self.stopped = True


class ParticipantRecorder:
    """One participant's recording in a room: start, pause/resume, stop, finalize.

    Follows the participant through reconnects (the built file starts a new segment at the new
    stream's first keyframe) and leave + rejoin (the room's new feeds are picked up); may be
    started before they join.
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
        # Set by the writer once the journal is closed (stopped, or failed).
        self._closed = threading.Event()
        self._file: BinaryIO | None = None
        self._synced = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sinks = {
            kind: _KindSink(self, kind, self._inbox, self._capacity, self._drop, self._put)
            for kind in _KINDS
        }
        self._feeds: dict[str, Feed] = {}
        self._unwatch: Any = None
        self._segments: list[SegmentInfo] = []
        self.received = {"video": 0, "audio": 0}
        self.dropped = 0
        # The relay's journal writer thread (media/recording/writer.py).
        self._writer = room.journal_writer
        self._journal = _JournalRecords()
        self._written: dict[str, int] = {}
        self._writer_cpu = 0.0

    # -- control (event loop) --------------------------------------------------------------

    def start(self) -> None:
        if self.state != "idle":
            raise RuntimeError(f"recorder for {self.participant_id} is {self.state}")
        self._loop = asyncio.get_running_loop()
        self._origin = time.time()
        self._timeline.begin(0.0)
        self.state = "recording"
        self._writer.add(self)
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
        # Video restarts on a keyframe.
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
        await asyncio.to_thread(self._closed.wait)

    async def finalize(self) -> RecordingResult:
        """Stop, build the recording from the journal, and join it into one WebM file."""
        await self.stop()
        replay_config = ReplayConfig(self.config.segment_seconds, self.config.sync_wait)
        if isinstance(self.storage, LocalDirectoryStorage):
            done = await replay.finalize_in_child(
                self.storage.root, self.participant_id, replay_config
            )
            for info in done.built.segments:
                self._segment_done(info)
        else:
            # An object store cannot be handed to another process: built here, in a thread.
            done = await asyncio.to_thread(
                replay.finalize,
                self.storage,
                self.participant_id,
                replay_config,
                self._segment_done,
            )
        self._written = done.built.written
        return await _complete(self.storage, self.participant_id, done)

    @property
    def spans(self) -> tuple[RecordedSpan, ...]:
        return self._timeline.spans(self._session_time())

    def stats(self) -> RecorderStats:
        return RecorderStats(
            received=dict(self.received),
            journaled=dict(self._journal.journaled),
            dropped=self.dropped,
            writer_cpu=self._writer_cpu,
            written=dict(self._written),
            segments=len(self._segments),
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
            # Adding a sink asks the publisher for a keyframe: the recording starts on it.
            feed.add_sink(self._sinks[kind])

    def _detach(self) -> None:
        for kind, feed in self._feeds.items():
            feed.remove_sink(self._sinks[kind])
        self._feeds = {}

    def _request_keyframe(self) -> None:
        feed = self._feeds.get("video")
        if feed is not None:
            feed.request_keyframe()

    # -- forwarding path (event loop): as little as possible -------------------------------

    def _drop(self) -> None:
        self.dropped += 1
        if not self._gap_marked:
            # One mark per stretch of drops (the writer clears it when it gets there); video
            # restarts on a keyframe after it.
            self._gap_marked = True
            self._inbox.append(_GAP)
            self._request_keyframe()

    def _put(self, item: tuple[Any, ...], wake: bool = False) -> None:
        # Control items and sender reports are never dropped (few, and they matter).
        if self.state != "failed":
            self._inbox.append(item)
            if wake:
                self._writer.wake()

    # -- writer thread ---------------------------------------------------------------------

    def write_turn(self) -> bool:
        """Append what gathered to the journal (the writer thread's call); True once it is
        closed."""
        writer = self._journal
        cpu = time.thread_time()
        try:
            if self._file is None:
                self._file = self.storage.open_journal(self.participant_id)
                self._file.write(journal.control(journal.START, self._origin))
                self._synced = time.monotonic()
            file = self._file
            chunks: list[bytes] = []
            if writer.drain(self._inbox, chunks):
                self._gap_marked = False
            if chunks:
                file.write(b"".join(chunks))
                file.flush()
            if writer.stopped or time.monotonic() - self._synced >= self.config.fsync_seconds:
                os.fsync(file.fileno())
                self._synced = time.monotonic()
        except Exception as exc:
            logger.exception("recording %s failed", self.participant_id)
            self.state = "failed"
            self._emit(RecordingFailed(self.room.room_id, self.participant_id, repr(exc)))
            writer.stopped = True
        finally:
            self._writer_cpu += time.thread_time() - cpu
        if writer.stopped:
            if self._file is not None:
                self._file.close()
            self._closed.set()
        return writer.stopped

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


async def _complete(
    storage: RecordingStorage, participant_id: str, done: replay.Finalized
) -> RecordingResult:
    """Mark a built recording finalized (its manifest) and drop the journal it was built from."""
    built, final = done.built, done.final
    starts_at = final.start_ms / 1000
    result = RecordingResult(
        participant_id=participant_id,
        path=final.name,
        duration=final.duration,
        sha256=final.sha256,
        bytes=final.bytes,
        spans=file_spans(built.spans, starts_at),
        starts_at=starts_at,
        segments=final.segments,
        video_frames=final.video_packets,
        audio_frames=final.audio_packets,
    )
    manifest = _manifest(result)
    manifest["stopped"] = built.stopped
    await asyncio.to_thread(storage.mark_finalized, participant_id, manifest)
    # The file holds everything the journal did.
    await asyncio.to_thread(storage.remove_journal, participant_id)
    return result


def _manifest(result: RecordingResult) -> dict[str, object]:
    """What ``final.json`` keeps of a finished recording."""
    return {
        "participant_id": result.participant_id,
        "file": result.path,
        "duration": result.duration,
        "sha256": result.sha256,
        "bytes": result.bytes,
        "segments": result.segments,
        "starts_at": result.starts_at,
        "spans": [[s.start, s.end, s.file_start] for s in result.spans],
        "video_frames": result.video_frames,
        "audio_frames": result.audio_frames,
    }


def _from_manifest(participant_id: str, manifest: dict[str, Any]) -> RecordingResult:
    return RecordingResult(
        participant_id=participant_id,
        path=str(manifest["file"]),
        duration=float(manifest["duration"]),
        sha256=str(manifest["sha256"]),
        bytes=int(manifest["bytes"]),
        spans=tuple(RecordedSpan(*span) for span in manifest["spans"]),
        starts_at=float(manifest["starts_at"]),
        segments=int(manifest["segments"]),
        # Manifests written before 28 November 2026 do not have them.
        video_frames=int(manifest.get("video_frames", 0)),
        audio_frames=int(manifest.get("audio_frames", 0)),
    )


async def recover(
    storage: LocalDirectoryStorage, participant_id: str, config: RecorderConfig | None = None
) -> RecordingResult:
    """Build the file of a recording whose process stopped while it ran (a journal, no
    ``final.json``): everything journaled, up to ~0.5 s before the stop, in a child process as
    a finalize would. A recording already built (the process stopped after that, before its
    database row was updated) is returned from its manifest without building again."""
    if storage.is_finalized(participant_id):
        manifest = await asyncio.to_thread(storage.read_manifest, participant_id)
        return _from_manifest(participant_id, manifest)
    config = config or RecorderConfig()
    replay_config = ReplayConfig(config.segment_seconds, config.sync_wait)
    done = await replay.finalize_in_child(storage.root, participant_id, replay_config)
    return await _complete(storage, participant_id, done)
