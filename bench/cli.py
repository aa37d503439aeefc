"""`tandem bench relay`: arguments, the runs they ask for, the table and the JSON document.

Imported by the `tandem` entry point (tandem/) for every command, when it builds its parser: keep
imports here light (aiortc, av and the load generator load only when a benchmark actually runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_PROCS = max(1, (os.cpu_count() or 2) - 1)


def add_bench_parser(sub: Any) -> None:
    """Adds `bench relay` to the `tandem` command's subparsers.

    ``sub`` is argparse's ``_SubParsersAction``, a private class: typed loosely on purpose.
    """
    bench = sub.add_parser("bench", help="benchmarks (see docs/performance.md)")
    which = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    relay = which.add_parser(
        "relay",
        help="load the media relay with simulated 2-party sessions and measure it",
        description="Starts a real `tandem serve` (or the transcoding baseline) and load "
        "generator processes of aiortc participants; measures the relay's CPU, delivery, "
        "delay and join time. See docs/performance.md.",
    )
    relay.add_argument("--sessions", type=int, default=4, help="2-party sessions (default 4)")
    relay.add_argument("--duration", type=float, default=20.0, help="measured seconds (20)")
    relay.add_argument("--mode", choices=["forward", "transcode"], default="forward")
    relay.add_argument(
        "--compare",
        action="store_true",
        help="run forward, then transcode; with --record: forward without and with recording, "
        "alternating, --pairs times (the recording overhead)",
    )
    relay.add_argument(
        "--pairs", type=int, default=3, help="pairs for --record --compare (default 3)"
    )
    relay.add_argument("--find-capacity", action="store_true",
                       help="step --sessions up until video delivery < 99.5%%")  # fmt: skip
    relay.add_argument("--step", type=int, default=2, help="capacity search step (2)")
    relay.add_argument("--max-sessions", type=int, default=40, help="capacity search limit (40)")
    relay.add_argument(
        "--procs",
        type=int,
        default=DEFAULT_PROCS,
        help=f"load generator processes (default: cores - 1 = {DEFAULT_PROCS})",
    )
    relay.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the relay as `tandem serve --workers N` (N > 1 needs Redis: "
        "TANDEM_REDIS_URL, else redis://127.0.0.1:6379/0)",
    )
    relay.add_argument(
        "--cpu-per-worker",
        type=float,
        metavar="CORES",
        help="cap each relay process that hosts sessions at CORES of CPU with a cgroup "
        "quota (e.g. 0.15; Linux, needs a writable cgroup cpu controller)",
    )
    relay.add_argument("--json", type=Path, metavar="PATH", help="write every figure here")
    relay.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="sample the relay with py-spy during the window (raw output to PATH)",
    )
    relay.add_argument(
        "--soak",
        action="store_true",
        help="a long run (default 600 s) for memory: RSS growth after warm-up is reported",
    )
    relay.add_argument("--record", action="store_true",
                       help="record every session (the parent consents through the protocol)"
                       )  # fmt: skip
    from bench.login_burst import add_parser as add_login_burst

    add_login_burst(which)


def _progress(line: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K" + line[:160])
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run_bench(args: argparse.Namespace) -> int:
    if args.bench_command == "login-burst":
        from bench.login_burst import run_login_burst

        return run_login_burst(args)
    if args.bench_command != "relay":
        raise AssertionError(args.bench_command)  # argparse only lets known benchmarks through
    if args.soak and args.duration == 20.0:
        args.duration = 600.0
    if args.record and args.mode != "forward":
        # The transcoding baseline has no recorder: recording overhead is forward vs forward.
        print("tandem bench relay: --record needs --mode forward", file=sys.stderr)
        return 2
    if args.record and args.compare and (args.find_capacity or args.pairs < 1):
        print("tandem bench relay: --record --compare runs --pairs (>= 1) pairs at one "
              "--sessions, not --find-capacity", file=sys.stderr)  # fmt: skip
        return 2
    if min(args.sessions, args.procs, args.step, args.workers) < 1 or args.duration <= 0:
        print("tandem bench relay: --sessions, --duration, --procs, --step and --workers must "
              "be positive", file=sys.stderr)  # fmt: skip
        return 2
    if args.workers > 1 and (args.compare or args.mode != "forward"):
        # Only `tandem serve` has workers; the transcoding baseline is one process.
        print("tandem bench relay: --workers needs --mode forward (not --compare)",
              file=sys.stderr)  # fmt: skip
        return 2

    if args.cpu_per_worker is not None:
        from bench.cpu_cap import find_hierarchy

        if not 0 < args.cpu_per_worker <= (os.cpu_count() or 1):
            print("tandem bench relay: --cpu-per-worker must be > 0 and at most the cores",
                  file=sys.stderr)  # fmt: skip
            return 2
        if find_hierarchy() is None:
            print("tandem bench relay: --cpu-per-worker needs a writable cgroup cpu controller "
                  "(v2 /sys/fs/cgroup with cpu enabled, or v1 /sys/fs/cgroup/cpu; as root)",
                  file=sys.stderr)  # fmt: skip
            return 2

    from bench import flame, report
    from bench.cpu_cap import period_us
    from bench.frames import load_clip

    if args.profile and flame.py_spy() is None:
        print("tandem bench relay: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    from bench.run import RunConfig, find_capacity, run_once

    document: dict[str, Any] = {"machine": report.machine(), "versions": report.versions()}
    overhead = args.record and args.compare
    modes = ["forward", "transcode"] if args.compare and not overhead else [args.mode]
    document["config"] = {
        "sessions": args.sessions, "duration_s": args.duration, "modes": modes,
        "load_generator_processes": args.procs, "find_capacity": args.find_capacity,
        "record": args.record, "workers": args.workers, "cpu_per_worker": args.cpu_per_worker,
        "recording_overhead_pairs": args.pairs if overhead else None,
        # The quota's period, so a stall's length is on record (bench/cpu_cap.py).
        "cpu_cap_period_us": period_us(args.cpu_per_worker) if args.cpu_per_worker else None,
        "video": "VP8 640x480@30 ~1 Mbps, pre-encoded", "audio": "Opus 20 ms, pre-encoded",
    }  # fmt: skip
    clip = load_clip()
    # How fast the machine runs Python, before and after, and the CPU stolen in between: the
    # figures of two runs compare only if these do (docs/performance.md, "Noise").
    probe_start, times_start = report.speed_probe(), report.cpu_times()
    runs: list[dict[str, Any]] = []
    try:
        for mode in modes:
            profile = None
            if args.profile:
                profile = args.profile.with_name(f"{args.profile.stem}-{mode}{args.profile.suffix}")
            config = RunConfig(mode, args.sessions, args.duration, args.procs, profile=profile,
                               record=args.record, workers=args.workers,
                               cpu_per_worker=args.cpu_per_worker)  # fmt: skip
            if overhead:
                # Alternating, so that the machine drifting faster or slower during the runs
                # weighs on both sides alike.
                for _ in range(args.pairs):
                    for record in (False, True):
                        paired = dataclasses.replace(config, record=record)
                        runs.append(run_once(paired, clip, _progress))
            elif args.find_capacity:
                best, tried, stopped = find_capacity(
                    config, clip, _progress, args.step, args.max_sessions
                )
                runs += tried
                document.setdefault("capacity", {})[mode] = {
                    "sessions": best, "delivery_target": report.DELIVERY_TARGET,
                    "step": args.step, "tried": [r["sessions"] for r in tried],
                    # Whose limit stopped the search; a starved load generator means "at least".
                    "limited_by": stopped,
                }  # fmt: skip
            else:
                runs.append(run_once(config, clip, _progress))
    except RuntimeError as exc:
        print(f"\ntandem bench relay: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.stderr.write("\n")
    document["runs"] = runs
    steal = report.steal_share(times_start, report.cpu_times())
    speed: dict[str, Any] = {
        "probe": f"CPU seconds of a {report.PROBE_STEPS:,}-step Python loop",
        "probe_cpu_s_start": probe_start,
        "probe_cpu_s_end": report.speed_probe(),
        "steal_share": steal,
    }
    document["machine"]["speed"] = speed
    if overhead:
        document["recording_overhead"] = report.recording_overhead(runs)
    by_mode = {r["mode"]: r for r in runs if r["sessions"] == args.sessions}
    if "forward" in by_mode and "transcode" in by_mode:
        forward = by_mode["forward"]["relay_cpu_per_stream"]
        transcode = by_mode["transcode"]["relay_cpu_per_stream"]
        document["forward_vs_transcode_cpu_ratio"] = (
            round(transcode / forward, 2) if forward else None
        )
    if args.profile:
        for mode in modes:
            raw = args.profile.with_name(f"{args.profile.stem}-{mode}{args.profile.suffix}")
            if raw.exists():
                print(f"relay profile ({mode}, {raw}):\n{flame.summarize(raw)}\n")
    if args.cpu_per_worker is not None:
        period_ms = period_us(args.cpu_per_worker) / 1000
        print(f"relay capped at {args.cpu_per_worker:g} cores per worker "
              f"(cgroup CPU quota, {period_ms:g} ms period)")  # fmt: skip
    print(f"machine speed: {speed['probe']}: {speed['probe_cpu_s_start']} s before, "
          f"{speed['probe_cpu_s_end']} s after; CPU stolen by the host during the run: "
          f"{'-' if steal is None else f'{steal * 100:.1f}%'}")  # fmt: skip
    print(report.table(runs))
    if "recording_overhead" in document:
        found = document["recording_overhead"]
        print(f"relay CPU with / without recording: {found['relay_cpu_ratio']} "
              f"(mean of {found['pairs']} alternating pairs; each pair "
              f"{', '.join(str(r) for r in found['pair_ratios'])}); the journal writer thread: "
              f"{found['journal_writer_share_pct']}% of the recorded runs' relay CPU")  # fmt: skip
    if "forward_vs_transcode_cpu_ratio" in document:
        ratio = document["forward_vs_transcode_cpu_ratio"]
        print(f"relay CPU per stream, transcode / forward: {ratio}")
    for mode, found in document.get("capacity", {}).items():
        print(f"capacity ({mode}): {found['sessions']} sessions at >= 99.5% video delivery")
    if args.json:
        report.write_json(args.json, document)
        print(f"wrote {args.json}")
    return 0
