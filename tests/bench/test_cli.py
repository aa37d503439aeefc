"""`tandem bench relay` end to end, tiny: the figures are there and media was delivered.

Timings and speeds are never asserted: the machine is shared and they say nothing about
correctness here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_bench(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tandem", "bench", "relay", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_tiny_forwarding_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_bench(
        tmp_path, "--sessions", "2", "--duration", "3", "--procs", "1", "--json", str(out)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["cpu_model"]
    # How fast the machine ran Python around the run: what makes figures of two days compare.
    speed = document["machine"]["speed"]
    assert speed["probe_cpu_s_start"] > 0
    assert speed["probe_cpu_s_end"] > 0
    assert 0 <= speed["steal_share"] < 1
    assert "machine speed:" in done.stdout
    assert {"python", "aiortc", "av"} <= set(document["versions"])
    (run,) = document["runs"]
    assert run["mode"] == "forward"
    assert run["sessions"] == 2
    assert run["sessions_failed"] == 0
    assert run["video_delivery"] > 0
    assert run["audio_delivery"] > 0
    # Frames are recognised by their bytes: forwarding must not change them.
    assert run["delivery_by"] == "identity"
    assert run["delay_ms"]["samples"] > 0
    assert run["join_s"]["samples"] == 2
    # Where the joins spent their time: the parent's steps, in the order they happen.
    steps = [step["step"] for step in run["join_steps_s"]]
    assert steps.index("welcome") < steps.index("offer") < steps.index("connected")
    assert steps.index("connected") < steps.index("first_frame")
    assert run["join_steps_s"][steps.index("first_frame")]["samples"] == 2
    for key in ("p50", "p95", "p99"):
        assert run["delay_ms"][key] is not None
    for key in (
        "relay_cpu_cores",
        "relay_cpu_per_stream",
        "rtp_packets_to_subscribers_per_s",
        "rtp_packets_per_s_per_relay_core",
        "loadgen_cpu_cores",
        "relay_runqueue_wait_share",
        "relay_rss_mb_after_warmup",
        "relay_rss_mb_end",
        "relay_rss_growth_after_warmup_pct",
    ):
        assert run[key] is not None, key
    # The real relay forwarded without decoding or encoding anything.
    assert run["relay_counters"]["forwarded_frames_total"] > 0
    assert run["relay_counters"]["decodes_total"] == 0
    assert run["relay_counters"]["encodes_total"] == 0
    # RTP-level forwarding: every packet the relay took was one it could forward.
    assert run["relay_counters"]["rtp_received_packets_total"] > 0
    assert run["relay_counters"]["rtp_forwarded_packets_total"] > 0
    assert "relay CPU per stream" in done.stdout


def test_two_workers_each_host_a_session_and_are_measured(tmp_path: Path, redis_url: str) -> None:
    # `redis_url` (tests/conftest.py) skips without Redis, or fails with TANDEM_REQUIRE_SERVICES=1.
    out = tmp_path / "bench.json"
    done = run_bench(
        tmp_path, "--workers", "2", "--sessions", "2", "--duration", "3", "--procs", "1",
        "--json", str(out), env={"TANDEM_REDIS_URL": redis_url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["config"]["workers"] == 2
    (run,) = document["runs"]
    assert run["workers"] == 2
    assert run["sessions_failed"] == 0
    workers = [p for p in run["relay_cpu_by_process"] if p["role"] == "worker"]
    assert len(workers) == 2
    assert len({p["pid"] for p in workers}) == 2
    for worker in workers:
        assert worker["cpu_cores"] is not None
        # Placed by the product (least-loaded node through Redis): one session each.
        assert worker["sessions_hosted"] == 1
        assert worker["relay_counters"]["forwarded_frames_total"] > 0
    # The supervisor and every worker are in the relay's CPU figure.
    assert any(p["role"] == "supervisor" for p in run["relay_cpu_by_process"])
    assert run["relay_counters_workers"] == 2
    assert run["relay_counters"]["decodes_total"] == 0
    assert run["video_delivery"] > 0
    assert run["audio_delivery"] > 0
    assert run["delay_ms"]["samples"] > 0


def test_record_needs_the_forwarding_relay(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "--record", "--mode", "transcode")
    assert done.returncode == 2
    assert "--record needs --mode forward" in done.stderr
    done = run_bench(tmp_path, "--record", "--compare", "--find-capacity")
    assert done.returncode == 2
    assert "not --find-capacity" in done.stderr


def test_record_compare_measures_the_recording_overhead_in_pairs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = run_bench(
        tmp_path, "--record", "--compare", "--pairs", "1", "--sessions", "1", "--duration", "3",
        "--procs", "1", "--json", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(out.read_text())
    # Without, then with: the same forwarding relay, the same sessions.
    assert [(r["mode"], r["record"]) for r in document["runs"]] == [
        ("forward", False),
        ("forward", True),
    ]
    assert document["config"]["record"] is True
    assert document["runs"][0]["recorded_bytes"] == 0
    recorded = document["runs"][1]
    # The parent consented through the protocol, and every session recorded.
    assert recorded["sessions_failed"] == 0
    assert recorded["recorded_bytes"] > 0
    # The journal writer thread ran, and its CPU reached /metrics.
    assert recorded["relay_counters"]["recording_journal_cpu_seconds_total"] > 0
    assert recorded["video_delivery"] > 0
    assert recorded["relay_counters"]["encodes_total"] == 0
    found = document["recording_overhead"]
    assert found["pairs"] == 1
    assert found["relay_cpu_ratio"] > 0
    assert found["journal_writer_share_pct"] > 0
    assert "forward_vs_transcode_cpu_ratio" not in document
    assert "relay CPU with / without recording" in done.stdout


def test_workers_need_the_forwarding_relay(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "--workers", "2", "--mode", "transcode")
    assert done.returncode == 2
    assert "--workers needs --mode forward" in done.stderr
