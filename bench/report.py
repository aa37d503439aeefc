"""Turning what the processes measured into figures, a table and the JSON document."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

# Each 2-party session forwards 4 tracks: both participants' video and audio, to the other one.
TRACKS_PER_SESSION = 4
DELIVERY_TARGET = 0.995
# Frames leaving later than this against their schedule (p95) mean the load generator did not
# get the CPU it needed (the machine is shared): the run then says little about the relay.
LATENESS_LIMIT_S = 0.05


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
    }


# Steps of the speed probe: ~0.5 s of CPU on this kind of machine on a fast day.
PROBE_STEPS = 10_000_000


def speed_probe() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast this machine runs Python right now.

    The same VM has measured 0.5 s and 2.1 s on different days (a shared host), and every
    figure scales with it; stored with each run, it says which figures compare.
    """
    started = time.process_time()
    total = 0
    for step in range(PROBE_STEPS):
        total += step
    return round(time.process_time() - started, 3)


def cpu_times() -> list[int]:
    """The machine's aggregate CPU times (``/proc/stat`` ``cpu`` line), in clock ticks."""
    try:
        with open("/proc/stat") as stat:
            return [int(field) for field in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return []


def steal_share(start: list[int], end: list[int]) -> float | None:
    """Share of the machine's CPU time the hypervisor gave to others (``steal``) in between."""
    if len(start) < 8 or len(end) < 8:
        return None
    total = sum(end[:8]) - sum(start[:8])
    return round((end[7] - start[7]) / total, 4) if total > 0 else None


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("aiortc", "av", "aioice", "pylibsrtp", "uvicorn"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def summarize(
    mode: str,
    sessions: int,
    window_s: float,
    relay_cpu_s: float,
    loadgen_cpu_s: float,
    results: list[dict[str, Any]],
    relay_counters: dict[str, float],
) -> dict[str, Any]:
    windows = [w for r in results for w in r["windows"]]
    failed = [f for r in results for f in r["failed"]]
    sent = sum(w["video_sent"] for w in windows)
    matched = sum(w["video_matched"] for w in windows)
    received = sum(w["video_received"] for w in windows)
    unmatched = sum(w["video_unmatched_total"] for w in windows)
    # Frames are recognised by their bytes (bench/frames.py); a transcoding relay changes
    # the bytes, so there only counts compare (frames received in the window / sent in it).
    by_identity = matched > 0 or received == 0
    delivered = matched if by_identity else min(received, sent)
    delays = [d for w in windows for d in w["delays"]]
    lateness = [d for w in windows for d in w.get("send_lateness", [])]
    joins = [j for r in results for j in r["join_s"]]
    both = [j for r in results for j in r["both_ways_s"]]
    rtp = {k: sum(r["rtp_packets"].get(k, 0) for r in results) for k in ("audio", "video")}
    audio_sent = sum(w["audio_sent"] for w in windows)
    cores = relay_cpu_s / window_s if window_s > 0 else 0.0
    packets_per_s = (rtp["audio"] + rtp["video"]) / window_s if window_s > 0 else 0.0
    tracks = sessions * TRACKS_PER_SESSION
    video_delivery = delivered / sent if sent else 0.0
    late = percentile(lateness, 0.95)
    loadgen_kept_up = late is not None and late <= LATENESS_LIMIT_S
    return {
        "mode": mode,
        "sessions": sessions,
        "sessions_failed": len(failed),
        "failures": failed[:5],
        "window_s": round(window_s, 3),
        "relay_cpu_cores": round(cores, 4),
        "relay_cpu_per_session": round(cores / sessions, 4) if sessions else None,
        "relay_cpu_per_stream": round(cores / tracks, 4) if tracks else None,
        "loadgen_cpu_cores": round(loadgen_cpu_s / window_s, 4) if window_s > 0 else None,
        "video_frames_sent": sent,
        "video_frames_delivered": delivered,
        "video_delivery": round(video_delivery, 5),
        "delivery_by": "identity" if by_identity else "count",
        "video_frames_unrecognised": unmatched,
        "audio_delivery": round(
            min(sum(w["audio_received"] for w in windows), audio_sent) / audio_sent, 5
        )
        if audio_sent
        else 0.0,
        "delay_ms": {
            "p50": _ms(percentile(delays, 0.50)),
            "p95": _ms(percentile(delays, 0.95)),
            "p99": _ms(percentile(delays, 0.99)),
            "samples": len(delays),
        },
        # How late the load generator sent frames against their 30 fps schedule: when this is
        # large the load generator, not the relay, was short of CPU.
        "send_lateness_ms": {
            "p50": _ms(percentile(lateness, 0.50)),
            "p95": _ms(percentile(lateness, 0.95)),
        },
        "join_s": {
            "p50": percentile(joins, 0.50),
            "p95": percentile(joins, 0.95),
            "both_ways_p50": percentile(both, 0.50),
            "both_ways_p95": percentile(both, 0.95),
            "samples": len(joins),
        },
        "join_steps_s": _join_steps([s for r in results for s in r["join_steps"]]),
        "rtp_packets_to_subscribers_per_s": round(packets_per_s, 1),
        "rtp_video_packets_per_s": round(rtp["video"] / window_s, 1) if window_s > 0 else 0.0,
        "rtp_packets_per_s_per_relay_core": round(packets_per_s / cores, 1) if cores else None,
        "relay_counters": relay_counters,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "loadgen_kept_up": loadgen_kept_up,
        "sustained": video_delivery >= DELIVERY_TARGET and not failed,
    }


def recording_overhead(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Relay CPU with / without recording over alternating pairs (same sessions), and the
    journal writer thread's share of the recorded runs' CPU (measured, not a difference)."""
    plain = [r["relay_cpu_cores"] for r in runs if not r.get("record")]
    recorded = [r for r in runs if r.get("record")]
    with_cores = [r["relay_cpu_cores"] for r in recorded]
    writer = [
        r["relay_counters"].get("recording_journal_cpu_seconds_total", 0.0) / r["window_s"]
        for r in recorded
        if r["window_s"]
    ]
    mean_plain = sum(plain) / len(plain) if plain else 0.0
    mean_with = sum(with_cores) / len(with_cores) if with_cores else 0.0
    return {
        "pairs": min(len(plain), len(with_cores)),
        "relay_cores_without": [round(c, 4) for c in plain],
        "relay_cores_with": [round(c, 4) for c in with_cores],
        "pair_ratios": [
            round(w / p, 3) if p else None for p, w in zip(plain, with_cores, strict=False)
        ],
        "relay_cpu_ratio": round(mean_with / mean_plain, 3) if mean_plain else None,
        "journal_writer_cores": round(sum(writer) / len(writer), 4) if writer else None,
        "journal_writer_share_pct": (
            round(100 * sum(writer) / sum(with_cores), 1) if writer and sum(with_cores) else None
        ),
    }


def _join_steps(sessions: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Per step of joining, p50/p95 of the seconds from the parent's ``join`` to it (sessions
    that got that far), in the order the steps happen: where a slow join spent its time."""
    names: dict[str, list[float]] = {}
    for steps in sessions:
        for name, at in steps.items():
            names.setdefault(name, []).append(at)
    ordered = sorted(names.items(), key=lambda item: percentile(item[1], 0.5) or 0.0)
    return [
        {"step": name, "p50": percentile(at, 0.5), "p95": percentile(at, 0.95), "samples": len(at)}
        for name, at in ordered
    ]


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"
    return f"{value}{unit}"


def _workers_cell(run: dict[str, Any]) -> str:
    workers = [p for p in run["relay_cpu_by_process"] if p["role"] == "worker"]
    return " ".join(f"{p['cpu_cores']:.2f}({p['sessions_hosted']})" for p in workers) or "-"


def table(runs: list[dict[str, Any]]) -> str:
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("mode", lambda r: r["mode"]),
        ("sessions (failed)", lambda r: f"{r['sessions']} ({r['sessions_failed']})"),
        ("relay CPU, cores", lambda r: _fmt(r["relay_cpu_cores"])),
        ("relay workers: cores (sessions)", _workers_cell),
        ("relay CPU per session", lambda r: _fmt(r["relay_cpu_per_session"])),
        ("relay CPU per stream", lambda r: _fmt(r["relay_cpu_per_stream"])),
        ("relay RSS after warm-up / end, MB",
         lambda r: f"{r.get('relay_rss_mb_after_warmup')} / {r.get('relay_rss_mb_end')}"),
        ("relay RSS growth after warm-up",
         lambda r: f"{r.get('relay_rss_growth_after_warmup_pct')}%"),
        ("load generator CPU, cores", lambda r: _fmt(r["loadgen_cpu_cores"])),
        ("video delivery", lambda r: f"{r['video_delivery'] * 100:.2f}% ({r['delivery_by']})"),
        ("audio delivery", lambda r: f"{r['audio_delivery'] * 100:.2f}%"),
        ("delay p50/p95/p99 ms", lambda r: "/".join(
            _fmt(r["delay_ms"][k]) for k in ("p50", "p95", "p99"))),
        ("sender lateness p50/p95 ms", lambda r: "/".join(
            _fmt(r["send_lateness_ms"][k]) for k in ("p50", "p95"))),
        ("relay waiting for a core", lambda r: f"{r['relay_runqueue_wait_share'] * 100:.0f}%"),
        ("load generator kept up", lambda r: "yes" if r["loadgen_kept_up"] else "NO (noise)"),
        ("join p50/p95 s", lambda r: "/".join(_fmt(r["join_s"][k]) for k in ("p50", "p95"))),
        ("RTP pkts/s to subscribers", lambda r: _fmt(r["rtp_packets_to_subscribers_per_s"])),
        ("RTP pkts/s per relay core", lambda r: _fmt(r["rtp_packets_per_s_per_relay_core"])),
        ("recording", lambda r: f"yes, {r['recorded_bytes'] / 1e6:.1f} MB written"
            if r.get("record") else "no"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    lines = []
    for name, cell in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{cell(r):>22}" for r in runs))
    return "\n".join(lines)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
