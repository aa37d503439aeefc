"""The home-network benchmark (issue 15): real Chromium on both sides of the test bed's link.

    sudo .venv/bin/python tests/network/bench_home.py [--scenario NAME ...] [--runs N]
                                                      [--code DIR] [--json PATH]

Each run makes its own bed (tests/support/netbed.py), starts Tandem in the server's namespace,
opens the therapist's Chromium beside it and the parent's behind the link (both film the
textured Y4M camera), admits the parent and lets the call run for ``--call-seconds`` (45) after
the first decoded frame. A sampler in each page reads getStats every 200 ms; the figures come
from those samples afterwards (docs/performance.md, "Home networks"):

- t0: the receiving browser's first decoded frame of the other's video after admission;
- frozen: framesDecoded not advancing for more than 0.5 s (the whole stretch counts), within
  the first 15 s after t0 and within the last 30 s of the call;
- fps: framesDecoded over the last 30 s;
- what the parent's browser sends (outbound-rtp video: bytes incl. headers, of which
  retransmissions; targetBitrate; frame width) and its send-side estimate
  (candidate-pair availableOutgoingBitrate), over the last 30 s.

``--code DIR`` runs the server from another checkout (PYTHONPATH=DIR): how the figures of the
code before a change are taken. Not collected by pytest (not a test_ file); it is a tool.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# tests/support, as tests/conftest.py puts it on the path for the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from e2e_flows import (
    Browsers,
    Participant,
    admit,
    knock,
    login,
    open_call,
    start_session,
    wait_until,
    write_textured_y4m,
)
from netbed import Impairment, NetBed, Sites, bed_missing
from netcall import NetCall
from turn import start_turn, turn_missing
from video_samples import SAMPLE_MS, SAMPLER_JS, sender, series

START_S = 15.0
DELAY_MS = 80
LOSS = 0.02


@dataclass(frozen=True)
class Scenario:
    name: str
    into_server: Impairment  # what the parent sends crosses this (the parent's uplink)
    into_parent: Impairment  # the parent's downlink
    udp_blocked: bool = False
    # Whose video is the point of the scenario: "parent" (the therapist receives it) or
    # "therapist" (the parent receives it). Both directions are measured either way.
    subject: str = "parent"


def _home(rate_kbit: int | None = None) -> Impairment:
    return Impairment(rate_kbit=rate_kbit, delay_ms=DELAY_MS, loss=LOSS)


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("unimpaired", Impairment(), Impairment()),
        Scenario("uplink500", _home(500), _home()),
        Scenario("uplink300", _home(300), _home()),
        Scenario("downlink300", _home(), _home(300), subject="therapist"),
        Scenario("turn", _home(), _home(), udp_blocked=True),
    )
}


def _direction(
    samples: list[dict[str, Any]], publisher: str, admitted: float, call_s: float
) -> dict[str, Any]:
    frames = series(samples, publisher)
    t0 = frames.first_frame(admitted)
    if t0 is None:
        return {"t0_s": None}
    window = (t0 + START_S * 1000, t0 + call_s * 1000)
    frozen_start, freezes_start = frames.frozen(t0, t0 + START_S * 1000)
    frozen_last, freezes_last = frames.frozen(*window)
    return {
        "t0_s": round((t0 - admitted) / 1000, 2),
        "first15_frozen_s": round(frozen_start, 2),
        "first15_freezes": freezes_start,
        "last30_frozen_s": round(frozen_last, 2),
        "last30_freezes": freezes_last,
        "last30_fps": round(frames.fps(*window), 1),
    }


def run_scenario(
    scenario: Scenario, playwright: Any, camera: Path, folder: Path, code: Path | None,
    call_s: float, progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    with NetBed() as bed:
        sites = Sites.make(bed)
        call = NetCall(sites, folder, Browsers(playwright), camera)
        try:
            return _call(scenario, sites, call, code, call_s, progress)
        finally:
            call.close(failed=False)


def _call(
    scenario: Scenario, sites: Sites, call: NetCall, code: Path | None, call_s: float,
    progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    settings: dict[str, str] = {}
    if code is not None:
        settings["PYTHONPATH"] = str(code)
    if scenario.udp_blocked:
        missing = turn_missing()
        if missing:
            raise SystemExit(f"{missing} is needed for the TURN scenario")
        turn = start_turn(sites.server, sites.link.address(sites.server), call.folder)
        sites.link.block_udp()
        settings |= {"TANDEM_TURN_URLS": turn.urls("tcp"), "TANDEM_TURN_SECRET": turn.secret}
    sites.link.impair(into=sites.server, impairment=scenario.into_server)
    sites.link.impair(into=sites.parent, impairment=scenario.into_parent)
    live = call.serve(**settings)
    therapist, parent = call.launch("therapist"), call.launch("parent")
    login(therapist, live)
    links = start_session(therapist, live, f"Bench {scenario.name}")
    open_call(therapist, live, links["id"])
    therapist_id = therapist.participant_id()
    parent_id = knock(parent, links["parent"], check_devices=False)
    for person in (therapist, parent):
        person.page.evaluate(SAMPLER_JS, SAMPLE_MS)
    admitted = float(therapist.page.evaluate("Date.now()"))
    admit(therapist, parent_id)
    parent.wait_phase("call")
    progress(f"{scenario.name}: admitted, waiting for the first frames")

    def first_frames() -> bool:
        return all(_first(p, pid) for p, pid in ((therapist, parent_id), (parent, therapist_id)))

    wait_until(first_frames, 30, "no video both ways within 30 s")
    starts = [_first(therapist, parent_id), _first(parent, therapist_id)]
    end = max(s for s in starts if s is not None) + call_s * 1000 + 2 * SAMPLE_MS
    while (remaining := end - float(therapist.page.evaluate("Date.now()"))) > 0:
        progress(f"{scenario.name}: {remaining / 1000:.0f} s to go")
        time.sleep(min(5.0, remaining / 1000))
    at_therapist = therapist.page.evaluate("() => window.__benchSamples")
    at_parent = parent.page.evaluate("() => window.__benchSamples")
    parent_view = _direction(at_therapist, parent_id, admitted, call_s)
    therapist_view = _direction(at_parent, therapist_id, admitted, call_s)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "subject": scenario.subject,
        "parent_video_at_therapist": parent_view,
        "therapist_video_at_parent": therapist_view,
        "load_average": os.getloadavg()[0],
    }
    # What each browser sends, timed from the first frame of its video at the other's.
    for who, samples, view in (("parent", at_parent, parent_view),
                               ("therapist", at_therapist, therapist_view)):  # fmt: skip
        if view.get("t0_s") is not None:
            t0 = admitted + view["t0_s"] * 1000
            result[f"{who}_sends_first15"] = sender(samples, t0, t0 + START_S * 1000)
            result[f"{who}_sends_last30"] = sender(samples, t0 + START_S * 1000, t0 + call_s * 1000)
    return result


def _first(person: Participant, publisher: str) -> float | None:
    samples = person.page.evaluate("() => window.__benchSamples || []")
    return series(samples, publisher).first_frame(0)


def summary_line(result: dict[str, Any]) -> str:
    subject = "parent_video_at_therapist" if result["subject"] == "parent" else (
        "therapist_video_at_parent")  # fmt: skip
    view = result[subject]
    sends = result.get(f"{result['subject']}_sends_last30", {})
    other = result["therapist_video_at_parent" if result["subject"] == "parent"
                   else "parent_video_at_therapist"]  # fmt: skip
    return (
        f"{result['scenario']:<12} {result['subject']}'s video: t0 {view.get('t0_s')} s, "
        f"first 15 s frozen {view.get('first15_frozen_s')} s, last 30 s "
        f"{view.get('last30_fps')} fps frozen {view.get('last30_frozen_s')} s "
        f"({view.get('last30_freezes')}x); sends {sends.get('kbit_s')} kbit/s "
        f"(rtx {sends.get('rtx_kbit_s')}, target {sends.get('target_kbit_s')}, "
        f"width {sends.get('width_median')}); other way {other.get('last30_fps')} fps, "
        f"frozen {other.get('last30_frozen_s')} s; load {result['load_average']:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--code", type=Path, help="run the server from this checkout")
    parser.add_argument("--call-seconds", type=float, default=45.0)
    parser.add_argument("--json", type=Path, help="append every run's figures here (JSON lines)")
    parser.add_argument("--keep", type=Path, help="keep each run's folder (server log) here")
    args = parser.parse_args(argv)
    missing = bed_missing()
    if missing:
        print(f"needs {missing}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    names = args.scenario or list(SCENARIOS)
    with tempfile.TemporaryDirectory(prefix="bench-home-") as tmp, sync_playwright() as pw:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        camera = Path(tmp) / "textured.y4m"
        write_textured_y4m(camera)
        for run in range(args.runs):
            for name in names:
                folder = Path(tmp) / f"{name}-{run}-{time.strftime('%H%M%S')}"
                folder.mkdir()
                result = run_scenario(
                    SCENARIOS[name], pw, camera, folder, args.code, args.call_seconds,
                    lambda text: print(f"\r{text:<60}", end="", file=sys.stderr, flush=True),
                )  # fmt: skip
                result |= {"run": run, "code": str(args.code or "this checkout"),
                           "at": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
                print("\r", end="", file=sys.stderr)
                print(summary_line(result), flush=True)
                if args.json:
                    with args.json.open("a") as out:
                        out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
