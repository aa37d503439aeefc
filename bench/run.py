"""One benchmark run: relay process, sessions over HTTP, load generator processes, one window."""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import flame, report
from bench.cpu_cap import CpuCap
from bench.frames import Clip
from bench.loadgen import Events, LoadSpec, SessionSpec, loadgen_main
from bench.relay_proc import (
    THERAPIST_EMAIL,
    Browser,
    RelayProcess,
    cpu_seconds,
    prepare_environment,
    start_relay,
)
from bench.relay_tree import RelayWindow

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunConfig:
    mode: str
    sessions: int
    duration: float
    procs: int
    stagger: float = 0.1
    # py-spy raw output of the relay during the window (bench/flame.py), if wanted.
    profile: Path | None = None
    # Time for all sessions to have video both ways before the run counts as failed to start.
    ready_timeout: float = 30.0
    # Record every session (consent through the protocol); recorder CPU is in the relay's.
    record: bool = False
    # `tandem serve --workers N` (nodes placed through Redis); 1 is one process, no Redis.
    workers: int = 1
    # Cap each process that hosts sessions at this many cores (bench/cpu_cap.py).
    cpu_per_worker: float | None = None


class _Fleet:
    """The load generator processes and their message queues."""

    def __init__(self, specs: list[LoadSpec], clip: Clip) -> None:
        # spawn: a fresh interpreter per process; nothing of the parent's state is inherited.
        context = multiprocessing.get_context("spawn")
        self.events: Events = context.Queue()
        self.controls: list[Events] = [context.Queue() for _ in specs]
        self.processes = [
            context.Process(
                target=loadgen_main,
                args=(spec, clip, self.events, control),
                name=f"tandem-bench-loadgen-{spec.proc}",
                daemon=True,
            )
            for spec, control in zip(specs, self.controls, strict=True)
        ]
        self.progress: dict[int, dict[str, Any]] = {}
        self.ready: set[int] = set()
        self.results: dict[int, dict[str, Any]] = {}
        self.errors: list[str] = []

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None and p.is_alive()]

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids():
            # A process may exit between the listing and the read.
            with contextlib.suppress(OSError, ValueError):
                total += cpu_seconds(pid)
        return total

    def drain(self, wait: float) -> None:
        try:
            event = self.events.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            kind, proc = event["type"], event["proc"]
            if kind == "progress":
                self.progress[proc] = event
            elif kind == "ready":
                self.ready.add(proc)
            elif kind == "result":
                self.results[proc] = event
            elif kind == "error":
                self.errors.append(f"load generator {proc}: {event['error']}")
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return

    def line(self) -> str:
        flowing = sum(p["flowing"] for p in self.progress.values())
        failed = sum(p["failed"] for p in self.progress.values())
        sent = sum(p["video_sent"] for p in self.progress.values())
        got = sum(p["video_received"] for p in self.progress.values())
        return f"flowing {flowing} failed {failed} video frames sent {sent} received {got}"

    def dead(self) -> bool:
        return any(p.exitcode not in (None, 0) for p in self.processes)

    def stop(self) -> None:
        for control in self.controls:
            control.put({"abort": True})
        for process in self.processes:
            process.join(timeout=20)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def _specs(config: RunConfig, relay: RelayProcess, browser: Browser) -> list[LoadSpec]:
    sessions = [
        SessionSpec(*browser.start_session(f"Bench {i + 1}")) for i in range(config.sessions)
    ]
    procs = max(1, min(config.procs, config.sessions))
    return [
        LoadSpec(
            proc=i,
            base_url=relay.base_url,
            therapist_cookie=browser.cookies["tandem_session"],
            sessions=tuple(sessions[i::procs]),
            stagger=config.stagger * procs,
            ready_timeout=config.ready_timeout,
            record=config.record,
        )
        for i in range(procs)
    ]


def run_once(config: RunConfig, clip: Clip, progress: Progress) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env, password = prepare_environment(tmp, config.workers)
        relay = start_relay(env, tmp, config.mode, config.workers)
        fleet: _Fleet | None = None
        cap: CpuCap | None = None
        try:
            if config.cpu_per_worker is not None:
                # Capped before the sessions join: joining costs CPU too, and a real small
                # core would have to carry it.
                cap = CpuCap(config.cpu_per_worker)
                for pid in relay.workers:
                    cap.add(pid)
            browser = Browser(relay.base_url)
            browser.login(THERAPIST_EMAIL, password)
            fleet = _Fleet(_specs(config, relay, browser), clip)
            fleet.start()
            summary = _measure(config, relay, fleet, progress, cap)
            summary["record"] = config.record
            summary["workers"] = config.workers
            summary["cpu_per_worker"] = config.cpu_per_worker
            # What the recorders had journaled by the end of the window (docs/media.md,
            # "Recording"): proof that recording ran, not a figure to compare.
            recordings = tmp / "var" / "recordings"
            summary["recorded_bytes"] = sum(
                f.stat().st_size for f in recordings.rglob("journal.bin") if f.is_file()
            )
            return summary
        except Exception as exc:
            raise RuntimeError(f"{exc}\n--- relay log (tail) ---\n{relay.log_tail()}") from exc
        finally:
            try:
                if fleet is not None:
                    fleet.stop()
                relay.stop()
            finally:
                # Groups outlive their processes otherwise (never raises).
                if cap is not None:
                    cap.close()


def _wait_ready(config: RunConfig, fleet: _Fleet, progress: Progress) -> None:
    label = f"{config.mode} x{config.sessions}"
    deadline = time.monotonic() + config.ready_timeout + config.sessions * config.stagger + 30
    while len(fleet.ready) < len(fleet.processes):
        fleet.drain(1.0)
        progress(f"[{label}] joining: {fleet.line()}")
        if fleet.errors or fleet.dead():
            raise RuntimeError("; ".join(fleet.errors) or "a load generator died")
        if time.monotonic() > deadline:
            raise RuntimeError("load generators did not get ready in time")


def _wait_results(fleet: _Fleet) -> None:
    wait_until = time.monotonic() + 60
    while len(fleet.results) < len(fleet.processes):
        fleet.drain(1.0)
        if fleet.errors or fleet.dead() or time.monotonic() > wait_until:
            raise RuntimeError("; ".join(fleet.errors) or "load generators sent no results")


def _measure(
    config: RunConfig, relay: RelayProcess, fleet: _Fleet, progress: Progress, cap: CpuCap | None
) -> dict[str, Any]:
    label = f"{config.mode} x{config.sessions}"
    _wait_ready(config, fleet, progress)
    start = time.monotonic() + 0.5
    end = start + config.duration
    for control in fleet.controls:
        control.put({"start": start, "end": end})
    time.sleep(max(0.0, start - time.monotonic()))
    window = RelayWindow(relay)
    throttling0 = cap.throttling() if cap is not None else []
    fleet_cpu0, wall0 = fleet.cpu(), time.monotonic()
    # With several workers py-spy samples the first: each is a whole relay.
    spy = flame.start(relay.workers[0], config.duration, config.profile) if config.profile else None
    window.read_metrics()
    # Resident memory over the window: growth after warm-up is how a leak shows (--soak).
    window.tick(0.0)
    while time.monotonic() < end:
        fleet.drain(min(1.0, max(0.01, end - time.monotonic())))
        elapsed = time.monotonic() - wall0
        cores = window.tick(elapsed) / max(elapsed, 1e-6)
        progress(f"[{label}] {elapsed:5.1f}/{config.duration:.0f}s relay {cores:.2f} cores, "
                 f"{fleet.line()}")  # fmt: skip
    relay_cpu, fleet_cpu1, wall1 = window.close(), fleet.cpu(), time.monotonic()
    throttling1 = cap.throttling() if cap is not None else []
    window.read_metrics()
    if spy is not None:
        spy.wait(timeout=60)
    _wait_results(fleet)
    figures = window.figures(wall1 - wall0)
    summary = report.summarize(
        config.mode, config.sessions, wall1 - wall0, relay_cpu, fleet_cpu1 - fleet_cpu0,
        list(fleet.results.values()), figures.pop("relay_counters"),
    )  # fmt: skip
    summary.update(figures)
    summary.update(_rss_figures(window.rss, wall1 - wall0))
    if cap is not None:
        # Per worker: the share of its busy quota periods that ran out of quota. Near 1, the
        # worker used all the CPU it was allowed.
        summary["cpu_cap_throttled_share"] = [
            round((t1 - t0) / (p1 - p0), 3) if p1 > p0 else 0.0
            for (p0, t0), (p1, t1) in zip(throttling0, throttling1, strict=True)
        ]
    return summary


def _rss_figures(samples: list[tuple[float, int]], window: float) -> dict[str, Any]:
    """Warm-up is the first quarter of the window (queues, codec objects, caches fill up);
    growth is the last sample against the first after warm-up."""
    warm = [rss for at, rss in samples if at >= window / 4] or [samples[-1][1]]
    baseline, last = warm[0], samples[-1][1]
    return {
        "relay_rss_mb_start": round(samples[0][1] / 2**20, 1),
        "relay_rss_mb_after_warmup": round(baseline / 2**20, 1),
        "relay_rss_mb_end": round(last / 2**20, 1),
        "relay_rss_growth_after_warmup_pct": round((last - baseline) / baseline * 100, 2)
        if baseline
        else None,
    }


def find_capacity(
    base: RunConfig, clip: Clip, progress: Progress, step: int, limit: int
) -> tuple[int, list[dict[str, Any]], str]:
    """Sessions go up by ``step`` until delivery drops below the target; the last good count,
    the runs, and what stopped the search (``limit``, ``relay``, ``load generator`` or
    ``failed run``: a run that could not start its sessions)."""
    runs: list[dict[str, Any]] = []
    best = 0
    sessions = base.sessions
    while sessions <= limit:
        config = replace(base, sessions=sessions, profile=None)
        try:
            result = run_once(config, clip, progress)
        except RuntimeError as exc:
            print(f"\n{base.mode} x{sessions}: run failed: {exc}", file=sys.stderr)
            return best, runs, "failed run"
        runs.append(result)
        if not result["sustained"]:
            if result["loadgen_kept_up"]:
                return best, runs, "relay"
            # Not the relay's limit: the load generator (or the shared machine) ran out.
            print(f"\n{base.mode} x{sessions}: the load generator fell behind its schedule; "
                  "the capacity found is a lower bound", file=sys.stderr)  # fmt: skip
            return best, runs, "load generator"
        best = sessions
        sessions += step
    return best, runs, "limit"
