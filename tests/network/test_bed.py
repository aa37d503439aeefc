"""The test bed itself: each impairment does what it is set to, measured with real traffic."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

import netbed
import pytest
from netbed import UDP_OVERHEAD, Impairment, NetBed, Sites

pytestmark = pytest.mark.network

PORT = 9000


def received_kbit(sites: Sites, rate_kbit: int, send_kbit: int, seconds: float) -> float:
    """Send UDP from the server to the parent at send_kbit; the rate the parent received."""
    size = 1000
    sink = sites.parent.start_probe("udp-sink", sites.link.address(sites.parent), str(PORT),
                                    str(seconds + 3))  # fmt: skip
    sites.server.probe("udp-send", sites.link.address(sites.parent), str(PORT), str(send_kbit),
                       str(seconds), str(size))  # fmt: skip
    got = sites.parent.finish_probe(sink)
    assert got["packets"] > 10, got
    return float(got["packets"] * (size + UDP_OVERHEAD) * 8 / got["seconds"] / 1000)


def rtts(sites: Sites, count: int) -> tuple[list[float], int]:
    """Round trips from the parent to an echo in the server's namespace."""
    echo = sites.server.start_probe("echo", sites.link.address(sites.server), str(PORT), "30")
    try:
        got = sites.parent.probe("udp-rtt", sites.link.address(sites.server), str(PORT), str(count))
    finally:
        echo.terminate()
    return got["rtts_ms"], got["lost"]


def test_rate_limit_holds_the_stream_near_the_setting(sites: Sites) -> None:
    sites.link.impair(into=sites.parent, impairment=Impairment(rate_kbit=1000))
    measured = received_kbit(sites, 1000, send_kbit=2000, seconds=1.5)
    assert 900 <= measured <= 1100, measured
    # Changed while in place: the new rate holds.
    sites.link.impair(into=sites.parent, impairment=Impairment(rate_kbit=400))
    measured = received_kbit(sites, 400, send_kbit=1200, seconds=1.5)
    assert 360 <= measured <= 440, measured


def test_random_loss_drops_near_the_setting(sites: Sites) -> None:
    sites.link.impair(into=sites.parent, impairment=Impairment(loss=0.10))
    sink = sites.parent.start_probe("udp-sink", sites.link.address(sites.parent), str(PORT), "4")
    sent = sites.server.probe("udp-send", sites.link.address(sites.parent), str(PORT), "1600",
                              "1", "100")  # fmt: skip
    got = sites.parent.finish_probe(sink)
    assert sent["errors"] == 0  # the sender never sees the drop
    lost = 1 - got["packets"] / sent["packets"]
    # 2000 packets at p = 0.1: one standard deviation is 0.7 %; this allows about four.
    assert 0.07 <= lost <= 0.13, (lost, sent, got)


def test_delay_holds_each_packet_for_the_setting(sites: Sites) -> None:
    base, _ = rtts(sites, 5)
    assert statistics.median(base) < 5, base
    sites.link.impair(into=sites.server, impairment=Impairment(delay_ms=80))
    delayed, lost = rtts(sites, 10)
    assert lost == 0
    assert 78 <= statistics.median(delayed) <= 90, delayed
    # Both directions, changed at run time: the round trip is the sum.
    sites.link.impair(into=sites.server, impairment=Impairment(delay_ms=30))
    sites.link.impair(into=sites.parent, impairment=Impairment(delay_ms=20))
    delayed, lost = rtts(sites, 10)
    assert lost == 0
    assert 49 <= statistics.median(delayed) <= 60, delayed


def test_link_down_stops_traffic_and_up_restores_it(sites: Sites) -> None:
    assert rtts(sites, 2)[1] == 0
    sites.link.down(sites.parent)
    values, lost = rtts(sites, 2)
    assert (values, lost) == ([], 2)
    sites.link.up(sites.parent)
    values, lost = rtts(sites, 4)
    # The first probe may meet the link still coming up; then it carries again.
    assert len(values) >= 3, (values, lost)


def test_blocked_udp_stops_udp_but_not_tcp(sites: Sites) -> None:
    sites.link.block_udp()
    echo = sites.server.start_probe("echo", sites.link.address(sites.server), str(PORT), "30")
    try:
        udp = sites.parent.probe("udp-rtt", sites.link.address(sites.server), str(PORT), "2")
        tcp = sites.parent.probe("tcp-rtt", sites.link.address(sites.server), str(PORT))
        assert udp == {"rtts_ms": [], "lost": 2}
        assert tcp["ok"] is True, tcp
        sites.link.block_udp(False)
        udp = sites.parent.probe("udp-rtt", sites.link.address(sites.server), str(PORT), "2")
        assert udp["lost"] == 0, udp
    finally:
        echo.terminate()


def test_a_crashed_runs_namespaces_are_removed_by_the_next_bed(bed: NetBed) -> None:
    # A bed made by a process that then dies without closing it (as pytest does on SIGKILL).
    crashed = subprocess.run(
        [sys.executable, "-c", "import os, netbed; b = netbed.NetBed(); b.namespace('x');"
         " print(b.namespaces['x'].name, flush=True); os._exit(1)"],
        capture_output=True, text=True, cwd=Path(netbed.__file__).parent, check=False,
    )  # fmt: skip
    name = crashed.stdout.strip()
    assert name.startswith(netbed.PREFIX)
    assert name in namespaces()
    # This run's own bed is alive: only the dead process's namespace goes.
    assert netbed.remove_leftovers() == [name]
    assert name not in namespaces()
    assert all(ns.name in namespaces() for ns in bed.namespaces.values())


def namespaces() -> list[str]:
    return [line.split()[0] for line in netbed.run("ip", "netns", "list").stdout.splitlines()]
