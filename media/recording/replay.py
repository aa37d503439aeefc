"""Builds a participant's recording from its journal: frames, timing, WebM, the final file.

Runs after the recording stopped (``ParticipantRecorder.finalize``), or on what a crashed
process left (``python -m media.recording.replay ROOT PARTICIPANT``). It does, once, what a
recorder used to do during the call for every packet: assemble VP8 frames from RTP packets
(waiting for retransmissions, which the journal holds where they arrived), time them from the
publisher's sender reports (``sync.SourceSync``), and write keyframe-aligned WebM segments
(``segment_writer``), which ``remux.concatenate`` joins into the final, seekable file.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import av

from media.recording import journal, remux
from media.recording.segment_writer import SegmentInfo, SegmentWriter
from media.recording.storage import LocalDirectoryStorage, RecordingStorage
from media.recording.sync import SourceSync, report_pts
from media.recording.timeline import RecordedSpan
from media.recording.timeline import Timeline as SpanTimeline
from media.rtp.frames import AudioFrames, Timeline, VideoFrames
from media.rtp.wire import header_length, payload_end, vp8_frame_start

CLOCK_RATES = {"video": 90000, "audio": 48000}


@dataclass(frozen=True)
class ReplayConfig:
    # A new segment starts at the first keyframe this long after the last one began.
    segment_seconds: float = 3.0
    # How long packets wait for the first sender reports before timing falls back to arrival.
    sync_wait: float = 2.0


@dataclass
class Built:
    """What the journal held and what went into the segments."""

    spans: tuple[RecordedSpan, ...]
    received: dict[str, int]
    written: dict[str, int]
    segments: list[SegmentInfo]
    stopped: bool  # False: the journal ends without a stop (a crash)


def _noop() -> None:
    pass


class _Work:
    """Times each frame, places it on the recording's timeline and hands it to the segment
    writer, in the order the recorder journaled everything."""

    def __init__(self, writer: SegmentWriter, sync_wait: float) -> None:
        self.writer = writer
        self.origin = 0.0
        self._sync_wait = sync_wait
        self.timeline = SpanTimeline()
        self.timeline.begin(0.0)
        self._sync = self._new_sync()
        self._sources: dict[str, object] = {}
        self.last_at = 0.0

    def _new_sync(self) -> SourceSync:
        return SourceSync(dict(CLOCK_RATES), self._sync_wait)

    def packet(self, kind: str, source: object, packet: av.Packet[Any], arrival: float) -> None:
        if self._sources.get(kind) is not source:
            self._new_source(kind, source)
        pts = packet.pts
        assert pts is not None  # frames from the journal always have one
        if self._sync.released:
            self._write(kind, packet, self._sync.time_of(kind, pts, arrival))
        else:
            self._write_timed(self._sync.hold(kind, pts, arrival, (kind, packet)))

    def report(self, kind: str, source: object, pts: int, wallclock: float) -> None:
        if self._sources.get(kind) is source or kind not in self._sources:
            self._sync.on_report(kind, pts, wallclock)

    def _new_source(self, kind: str, source: object) -> None:
        if kind in self._sources:
            # A reconnect: new timestamps, new clocks; a new video stream starts a new segment
            # at its first keyframe (audio's own change must not wait for another one: no
            # keyframe can be asked for now).
            self._write_timed(self._sync.release())
            self._sync = self._new_sync()
            if kind == "video":
                self.writer.resync()
        self._sources[kind] = source

    def _write(self, kind: str, packet: av.Packet[Any], at: float) -> None:
        at_ms = round(self.timeline.file_time(at - self.origin) * 1000)
        self.writer.write(kind, packet, at_ms)

    def _write_timed(self, timed: list[tuple[object, float]]) -> None:
        for item, at in timed:
            kind, packet = cast(tuple[str, "av.Packet[Any]"], item)  # what packet() held
            self._write(kind, packet, at)

    def pause(self, at: float) -> None:
        self.end(at)
        self.writer.resync()

    def resume(self, at: float) -> None:
        self.timeline.begin(at)

    def end(self, at: float) -> None:
        self._write_timed(self._sync.release())
        self.timeline.end(at)
        self.writer.close_segment()


@dataclass
class _Source:
    """One publisher stream in the journal: its frames, from RTP packets or as journaled."""

    kind: str
    token: object = field(default_factory=object)
    timeline: Timeline | None = None
    frames: AudioFrames | VideoFrames | None = None
    rtp_level: bool | None = None  # None: no packet or frame of it yet
    waiting_reports: list[journal.Record] = field(default_factory=list)


class _Replay:
    def __init__(self, work: _Work) -> None:
        self._work = work
        self._sources: dict[int, _Source] = {}
        self._arrival = 0.0
        self.received = {"video": 0, "audio": 0}
        self.stopped = False

    def record(self, record: journal.Record) -> None:
        match record.type:
            case journal.START:
                self._work.origin = record.time
            case journal.RTP:
                self._rtp(self._source(record), record)
            case journal.FRAME:
                self._frame(self._source(record), record)
            case journal.REPORT:
                self._report(self._source(record), record)
            case journal.GAP:
                self._restart_video()
                self._work.writer.resync()
            case journal.PAUSE:
                self._restart_video()
                self._work.pause(record.time)
            case journal.RESUME:
                self._work.resume(record.time)
            case journal.STOP:
                self._work.end(record.time)
                self.stopped = True
        if record.type in (journal.RTP, journal.FRAME, journal.REPORT):
            self._work.last_at = max(self._work.last_at, record.time - self._work.origin)

    def _restart_video(self) -> None:
        """Packets were left out here (pause, drops): the frames being put together will not
        complete, and need not be waited for (as for a lost packet): start at a keyframe."""
        for source in self._sources.values():
            if isinstance(source.frames, VideoFrames):
                assert source.timeline is not None  # set with the frames
                source.frames = VideoFrames(source.timeline, self._deliverer(source), _noop)

    def _source(self, record: journal.Record) -> _Source:
        source = self._sources.get(record.source)
        if source is None:
            source = self._sources[record.source] = _Source(record.kind)
        return source

    def _rtp(self, source: _Source, record: journal.Record) -> None:
        packet = record.data
        try:
            start = header_length(packet)
            end = payload_end(packet)
        except (ValueError, IndexError):
            return  # the relay forwarded only well-formed packets; a torn record, at worst
        timestamp = int.from_bytes(packet[4:8], "big")
        if source.frames is None:
            source.timeline = Timeline()
            source.timeline.start(timestamp)
            deliver = self._deliverer(source)
            if source.kind == "video":
                source.frames = VideoFrames(source.timeline, deliver, _noop)
            else:
                source.frames = AudioFrames(source.timeline, deliver)
            self._started(source, rtp_level=True)
        self._arrival = record.time
        self.received[source.kind] += 1
        if isinstance(source.frames, VideoFrames):
            frame_start = vp8_frame_start(packet, start, end)
            source.frames.add(packet, start, end, record.seq, timestamp, frame_start)
        else:
            source.frames.add(packet, start, end, record.seq, timestamp)

    def _deliverer(self, source: _Source) -> Callable[[av.Packet[Any]], None]:
        def deliver(packet: av.Packet[Any]) -> None:
            self._work.packet(source.kind, source.token, packet, self._arrival)

        return deliver

    def _frame(self, source: _Source, record: journal.Record) -> None:
        if source.rtp_level is None:
            self._started(source, rtp_level=False)
        self.received[source.kind] += 1
        packet = av.Packet(record.data)
        packet.pts = record.pts
        packet.is_keyframe = record.keyframe
        self._work.packet(source.kind, source.token, packet, record.time)

    def _started(self, source: _Source, rtp_level: bool) -> None:
        source.rtp_level = rtp_level
        waiting, source.waiting_reports = source.waiting_reports, []
        for report in waiting:
            self._report(source, report)

    def _report(self, source: _Source, record: journal.Record) -> None:
        if source.rtp_level is None:
            source.waiting_reports.append(record)  # its pts line starts with the first packet
            return
        if source.rtp_level:
            assert source.timeline is not None  # set with the first packet
            origin: int | None = source.timeline.origin
        else:
            origin = record.rtp_origin
        if origin is not None:
            pts = report_pts(record.rtp_timestamp, origin)
            self._work.report(source.kind, source.token, pts, record.wallclock)


def build_segments(
    storage: RecordingStorage,
    participant_id: str,
    config: ReplayConfig | None = None,
    on_segment: Callable[[SegmentInfo], None] | None = None,
) -> Built:
    """Replay the participant's journal into WebM segments."""
    config = config or ReplayConfig()
    segments: list[SegmentInfo] = []

    def segment_done(info: SegmentInfo) -> None:
        segments.append(info)
        if on_segment is not None:
            on_segment(info)

    # No keyframe can be asked for after the fact: segments rotate at the publisher's own
    # keyframes (and those the relay asked for during the call, after a pause or a loss).
    writer = SegmentWriter(storage, participant_id, config.segment_seconds, _noop, segment_done)
    work = _Work(writer, config.sync_wait)
    replay = _Replay(work)
    try:
        with storage.read_journal(participant_id) as file:
            for record in journal.read(file):
                replay.record(record)
                if replay.stopped:
                    break
        if not replay.stopped:
            work.end(work.last_at)  # a crash: the journal ends where the recording did
    except BaseException:
        writer.abort()
        raise
    return Built(
        spans=work.timeline.spans(work.last_at),
        received=replay.received,
        written=dict(writer.written),
        segments=segments,
        stopped=replay.stopped,
    )


@dataclass(frozen=True)
class Finalized:
    built: Built
    final: remux.FinalFile


def finalize(
    storage: RecordingStorage,
    participant_id: str,
    config: ReplayConfig | None = None,
    on_segment: Callable[[SegmentInfo], None] | None = None,
) -> Finalized:
    """Build the segments from the journal and join them into the final file."""
    built = build_segments(storage, participant_id, config, on_segment)
    return Finalized(built, remux.concatenate(storage, participant_id))


# Builds running at once, per event loop: every session of a busy hour may end together, and
# each build is a process of its own (~80 MB).
_BUILDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def finalize_in_child(
    root: Path, participant_id: str, config: ReplayConfig, nice: int = 10
) -> Finalized:
    """``finalize`` in a child process at a lower CPU priority: building costs ~30 us per
    packet (docs/media.md), and in the relay's own process it would hold the GIL that the live
    sessions' forwarding needs. At most one build per core runs at a time."""
    loop = asyncio.get_running_loop()
    limit = _BUILDS.get(loop)
    if limit is None:
        limit = _BUILDS[loop] = asyncio.Semaphore(os.cpu_count() or 1)
    async with limit:
        return await _run_child(root, participant_id, config, nice)


async def _run_child(root: Path, participant_id: str, config: ReplayConfig, nice: int) -> Finalized:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "media.recording.replay",
        "--finalize",
        f"--nice={nice}",
        f"--segment-seconds={config.segment_seconds}",
        f"--sync-wait={config.sync_wait}",
        str(root),
        participant_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        raise
    if process.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"building the recording of {participant_id} failed: {detail[0]}")
    return _from_json(json.loads(out))


def _to_json(done: Finalized) -> dict[str, Any]:
    built = done.built
    return {
        "built": {
            "spans": [[s.start, s.end, s.file_start] for s in built.spans],
            "received": built.received,
            "written": built.written,
            "segments": [dataclasses.asdict(info) for info in built.segments],
            "stopped": built.stopped,
        },
        "final": dataclasses.asdict(done.final),
    }


def _from_json(data: dict[str, Any]) -> Finalized:
    built = data["built"]
    return Finalized(
        Built(
            spans=tuple(RecordedSpan(*span) for span in built["spans"]),
            received=built["received"],
            written=built["written"],
            segments=[
                SegmentInfo(**{**info, "kinds": tuple(info["kinds"])}) for info in built["segments"]
            ],
            stopped=built["stopped"],
        ),
        remux.FinalFile(**data["final"]),
    )


def salvage(storage: RecordingStorage, participant_id: str) -> remux.FinalFile:
    """Build the final file of a recording whose process died (no finalize marker)."""
    if not storage.segments(participant_id):
        build_segments(storage, participant_id)
    return remux.concatenate(storage, participant_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m media.recording.replay",
        description="Build final.webm from a recording's journal (e.g. after a crash).",
    )
    parser.add_argument("root", help="the recording's directory (LocalDirectoryStorage root)")
    parser.add_argument("participant")
    parser.add_argument(
        "--finalize", action="store_true", help="(the recorder's own use) print every figure"
    )
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    parser.add_argument("--segment-seconds", type=float, default=ReplayConfig.segment_seconds)
    parser.add_argument("--sync-wait", type=float, default=ReplayConfig.sync_wait)
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    storage = LocalDirectoryStorage(args.root)
    if args.finalize:
        config = ReplayConfig(args.segment_seconds, args.sync_wait)
        json.dump(_to_json(finalize(storage, args.participant, config)), sys.stdout)
    else:
        final = salvage(storage, args.participant)
        summary = {"file": final.name, "duration": final.duration, "sha256": final.sha256}
        json.dump(summary, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
