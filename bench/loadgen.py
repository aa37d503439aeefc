"""A load generator process: runs simulated sessions (therapist + parent) against the relay.

The orchestrator (bench/run.py) starts several of these with multiprocessing, waits for
every session to have video both ways, then sends one measurement window (start, end) on the
shared monotonic clock. Each process reports what it saw in that window as a plain dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing.queues
import queue
import time
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from bench.frames import Clip
from bench.participant import Participant
from media.aiortc import install

log = logging.getLogger(__name__)

# A string: multiprocessing's Queue is generic to type checkers only.
Events: TypeAlias = "multiprocessing.queues.Queue[dict[str, Any]]"


@dataclass(frozen=True)
class SessionSpec:
    session_id: str
    parent_token: str


@dataclass(frozen=True)
class LoadSpec:
    proc: int
    base_url: str
    therapist_cookie: str
    sessions: tuple[SessionSpec, ...]
    # Seconds between session starts: a clinic's sessions do not all start in the same instant.
    stagger: float
    ready_timeout: float
    # After the window ends, frames still in flight are given this long to arrive.
    tail: float = 1.0
    # Record every session: the therapist asks, the parent consents, through the protocol.
    record: bool = False


class SimSession:
    def __init__(self, spec: LoadSpec, session: SessionSpec, clip: Clip) -> None:
        host = urlsplit(spec.base_url).netloc
        ws = f"ws://{host}/ws/sessions/{session.session_id}"
        self.therapist = Participant(
            f"{ws}?as=therapist", spec.base_url, clip, cookie=spec.therapist_cookie
        )
        self.therapist.auto_admit = True
        self.parent = Participant(ws, spec.base_url, clip, token=session.parent_token)
        self.parent.auto_consent = True
        self.record = spec.record
        self.therapist.peer_log = self.parent.send_log
        self.parent.peer_log = self.therapist.send_log
        self.failed: str | None = None

    @property
    def participants(self) -> tuple[Participant, Participant]:
        return self.therapist, self.parent

    @property
    def flowing(self) -> bool:
        return all(p.arrivals.first_video_at is not None for p in self.participants)

    async def start(self, within: float) -> None:
        try:
            async with asyncio.timeout(within):
                await self.therapist.join()
                await self.therapist.welcomed.wait()
                await self.parent.join()
                # Polled: the first frame lands in a reader task of each participant.
                while not self.flowing:  # noqa: ASYNC110  # see the line above
                    await asyncio.sleep(0.02)
                if self.record:
                    await self.therapist.request_recording()
                    await self.therapist.recording.wait()
        except Exception as exc:
            errors = [e for p in self.participants for e in p.errors]
            self.failed = f"{exc!r} at {self._stage()} {errors}"[:300]

    def _stage(self) -> str:
        """How far the session got: says which step a timeout interrupted."""
        therapist, parent = self.therapist, self.parent
        return (
            f"welcomed={therapist.welcomed.is_set()}/{parent.welcomed.is_set()} "
            f"admitted={parent.admitted.is_set()} "
            f"video={therapist.arrivals.first_video_at is not None}"
            f"/{parent.arrivals.first_video_at is not None} "
            f"recording={therapist.recording.is_set()}"
        )

    def join_times(self) -> tuple[float | None, float | None]:
        """(parent: join -> first frame, parent join -> video flowing both ways)."""
        joined = self.parent.join_sent_at
        first = self.parent.arrivals.first_video_at
        other = self.therapist.arrivals.first_video_at
        if joined is None or first is None:
            return None, None
        both = None if other is None else max(first, other) - joined
        return first - joined, both

    def join_steps(self) -> dict[str, float]:
        """The parent's steps of joining (Participant.steps), in seconds from its ``join``."""
        joined = self.parent.join_sent_at
        if joined is None:
            return {}
        return {name: at - joined for name, at in self.parent.steps.items()}

    def window(self, start: float, end: float) -> dict[str, Any]:
        sent = matched = sent_audio = got_audio = got_video = 0
        unmatched = 0
        delays: list[float] = []
        lateness: list[float] = []
        for receiver, sender in ((self.therapist, self.parent), (self.parent, self.therapist)):
            seqs = sender.send_log.sent_between(start, end)
            sent += len(seqs)
            arrived = receiver.arrivals.matched
            for seq in seqs:
                hit = arrived.get(seq)
                if hit is not None:
                    matched += 1
                    delays.append(hit[1] - hit[0])
            got_video += sum(1 for t in receiver.arrivals.video_at if start <= t < end)
            unmatched += receiver.arrivals.unmatched
            sent_audio += sum(1 for t in sender.audio.sent_at if start <= t < end)
            got_audio += sum(1 for t in receiver.arrivals.audio_at if start <= t < end)
            # One lateness entry per frame sent: indexed by sequence number too.
            lateness += [sender.video.lateness[seq] for seq in seqs]
        return {
            "video_sent": sent,
            "video_matched": matched,
            "video_received": got_video,
            "video_unmatched_total": unmatched,
            "audio_sent": sent_audio,
            "audio_received": got_audio,
            "delays": delays,
            "send_lateness": lateness,
        }


async def _rtp_totals(sessions: list[SimSession]) -> dict[str, int]:
    totals = {"audio": 0, "video": 0}
    for session in sessions:
        for participant in session.participants:
            for kind, count in (await participant.rtp_packets_received()).items():
                totals[kind] += count
    return totals


async def _sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))


def _progress(spec: LoadSpec, sessions: list[SimSession], phase: str) -> dict[str, Any]:
    return {
        "type": "progress",
        "proc": spec.proc,
        "phase": phase,
        "flowing": sum(1 for s in sessions if s.flowing),
        "failed": sum(1 for s in sessions if s.failed),
        "video_sent": sum(len(p.send_log.sent_at) for s in sessions for p in s.participants),
        "video_received": sum(len(p.arrivals.video_at) for s in sessions for p in s.participants),
    }


async def _run(spec: LoadSpec, clip: Clip, events: Events, control: Events) -> None:
    install()
    sessions = [SimSession(spec, s, clip) for s in spec.sessions]
    phase = "joining"

    async def report() -> None:
        while True:
            events.put(_progress(spec, sessions, phase))
            await asyncio.sleep(1.0)

    async def start(i: int, session: SimSession) -> None:
        await asyncio.sleep(i * spec.stagger)
        await session.start(spec.ready_timeout)

    reporter = asyncio.create_task(report())
    try:
        await asyncio.gather(*(start(i, s) for i, s in enumerate(sessions)))
        events.put({"type": "ready", "proc": spec.proc})
        try:
            window = await asyncio.to_thread(control.get, True, 600.0)
        except queue.Empty:
            window = {"abort": True}
        if window.get("abort"):
            return
        t0, t1 = float(window["start"]), float(window["end"])
        phase = "measuring"
        await _sleep_until(t0)
        rtp_start = await _rtp_totals(sessions)
        await _sleep_until(t1)
        rtp_end = await _rtp_totals(sessions)
        phase = "draining"
        await _sleep_until(t1 + spec.tail)
        joins = [s.join_times() for s in sessions]
        events.put(
            {
                "type": "result",
                "proc": spec.proc,
                "sessions": len(sessions),
                "failed": [s.failed for s in sessions if s.failed],
                "join_s": [j for j, _ in joins if j is not None],
                "both_ways_s": [b for _, b in joins if b is not None],
                "join_steps": [s.join_steps() for s in sessions],
                "rtp_packets": {k: rtp_end[k] - rtp_start[k] for k in rtp_end},
                "windows": [s.window(t0, t1) for s in sessions if not s.failed],
            }
        )
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        await asyncio.gather(
            *(p.close() for s in sessions for p in s.participants), return_exceptions=True
        )


def loadgen_main(spec: LoadSpec, clip: Clip, events: Events, control: Events) -> None:
    """Process entry point (multiprocessing, spawn)."""
    logging.basicConfig(level=logging.WARNING)
    try:
        # uvloop when installed (uvicorn[standard] brings it, and `tandem serve` runs on it):
        # a cheaper load generator leaves more of a small machine to the relay being measured.
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_run(spec, clip, events, control))
    except Exception as exc:
        events.put({"type": "error", "proc": spec.proc, "error": repr(exc)})
        raise
