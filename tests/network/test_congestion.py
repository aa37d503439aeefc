"""Congestion control for publishers (docs/media.md, "Congestion control"), with real Chromium on
both sides of the bed: a parent's browser sends what its uplink carries, a weak observer does
not pull the parent down (and is told it gets audio only), a narrow downlink does not freeze
the first seconds. Media windows are short; the figures are the benchmark's
(tests/network/bench_home.py, docs/performance.md)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_flows import (
    Participant,
    admit,
    knock,
    start_call_with_parent,
    wait_audio_growing,
    wait_frames_growing,
)
from netbed import Impairment, run
from netcall import NetCall
from video_samples import SAMPLE_MS, SAMPLER_JS, series

pytestmark = [pytest.mark.network, pytest.mark.browser]

DELAY_MS, LOSS = 80, 0.02
OBSERVER_KBIT = 250

SENT_JS = """async () => {
  const pc = window.tandemCall && window.tandemCall.peer && window.tandemCall.peer.pc;
  let bytes = 0;
  if (pc) (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp") bytes += (s.bytesSent || 0) + (s.headerBytesSent || 0);
  });
  return { t: Date.now(), bytes };
}"""


def sending_kbit(person: Participant, seconds: float) -> float:
    """What the browser sends (audio and video, retransmissions and RTP headers included)."""
    first: dict[str, Any] = person.page.evaluate(SENT_JS)
    time.sleep(seconds)
    last: dict[str, Any] = person.page.evaluate(SENT_JS)
    return float((last["bytes"] - first["bytes"]) * 8 / (last["t"] - first["t"]))


# 300 kbit/s only: the harder case; 500 is measured by the benchmark (CI time).
@pytest.mark.parametrize("uplink_kbit", [300])
def test_a_parent_on_a_slow_uplink_sends_what_it_carries(call: NetCall, uplink_kbit: int) -> None:
    link, server, parent_ns = call.sites.link, call.sites.server, call.sites.parent
    link.impair(into=server, impairment=Impairment(uplink_kbit, DELAY_MS, LOSS))
    link.impair(into=parent_ns, impairment=Impairment(None, DELAY_MS, LOSS))
    therapist, parent, ids = start_call_with_parent(call.serve(), call.launch, "Uplink")
    therapist.page.evaluate(SAMPLER_JS, SAMPLE_MS)
    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    time.sleep(10)  # the parent's browser finds its rate
    # Before, the parent's browser kept sending more than the link carries (523 kbit/s plus
    # 126 of retransmissions at 500): nothing told it about its uplink, and the therapist's
    # view froze for 7-12 s of every 30. With the relay's transport feedback it sends less
    # than the link carries, and the picture keeps moving.
    start = now_ms(therapist)
    rate = sending_kbit(parent, 15)
    assert 20 < rate < uplink_kbit, rate
    # A 2 % loss still costs a keyframe wait now and then (a keyframe alone takes ~1 s of a
    # 300 kbit/s link; 1-2.6 s each on this bed, quiet or loaded): the picture must not stall
    # for long, nor for most of the window.
    frames = series(samples(therapist), ids["parent_id"])
    freezes = frames.freezes(start, start + 15_000)
    assert max(freezes, default=0.0) < 4.0, freezes
    assert sum(freezes) < 4.5, freezes


def test_a_new_subscriber_on_a_narrow_downlink_does_not_freeze_at_the_start(
    call: NetCall,
) -> None:
    link, server, parent_ns = call.sites.link, call.sites.server, call.sites.parent
    link.impair(into=parent_ns, impairment=Impairment(300, DELAY_MS, LOSS))
    link.impair(into=server, impairment=Impairment(None, DELAY_MS, LOSS))
    _, parent, ids = start_call_with_parent(call.serve(), call.launch, "Downlink")
    parent.page.evaluate(SAMPLER_JS, SAMPLE_MS)
    wait_frames_growing(parent, ids["therapist_id"], timeout=20)
    first = series(samples(parent), ids["therapist_id"]).first_frame(0)
    assert first is not None
    # The therapist's browser had the link to the relay to itself (fast); the parent's link
    # is 300 kbit/s. Before, its first 15 s froze for 6-14 s while the therapist's sender came
    # down; now the relay caps the therapist at the start. Generous: under the 6 s that the
    # best run before the change froze (one run on a quiet machine had a 2.8 s keyframe wait
    # among short stalls: 4.8 s; one on a machine 3x slower than usual, short stalls: 5.2 s).
    time.sleep(max(0.0, (first + 15_000 - now_ms(parent)) / 1000))
    frames = series(samples(parent), ids["therapist_id"])
    frozen, _ = frames.frozen(first, first + 15_000)
    assert frozen < 6.0, frames.freezes(first, first + 15_000)
    assert frames.fps(first + 5_000, first + 15_000) > 10


def test_a_weak_observer_does_not_pull_the_parent_down_and_gets_audio_only(
    call: NetCall,
) -> None:
    bed, server = call.sites.bed, call.sites.server
    observer_ns = bed.namespace("observer")
    observer_link = bed.link(server, observer_ns)
    # The observer reaches the server's address on the parent's link through its own link.
    run("ip", "-n", observer_ns.name, "route", "add",
        f"{call.sites.link.address(server)}/32", "via", observer_link.address(server))  # fmt: skip
    observer_link.impair(into=observer_ns, impairment=Impairment(OBSERVER_KBIT, DELAY_MS, LOSS))
    live = call.serve()
    therapist, parent, ids = start_call_with_parent(live, call.launch, "Weak observer")
    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    time.sleep(8)  # the parent's rate settles on the fast link
    alone = sending_kbit(parent, 5)

    observer = call.launch("observer", observer_ns)
    observer_id = knock(observer, ids["observer"], check_devices=False)
    admit(therapist, observer_id)
    observer.wait_phase("call")
    # The observer's 250 kbit/s cannot carry the parent's video: it is told, and keeps audio.
    observer.page.wait_for_selector("#reception-note", state="visible", timeout=30_000)
    assert "too slow for video" in observer.page.inner_text("#reception-note")
    wait_audio_growing(observer, ids["parent_id"], timeout=15)
    # Before, the observer's estimate capped the parent (the lowest of the subscribers'): below
    # the observer's 250 kbit/s. Now the parent keeps most of its rate, or at least twice what
    # the observer's link carries (on a slow machine the parent's own rate drifts: one CI run
    # had 1,790 alone and 568 with the observer, another 315 and 460).
    with_observer = sending_kbit(parent, 5)
    assert with_observer > min(0.7 * alone, 2 * OBSERVER_KBIT), (alone, with_observer)
    wait_frames_growing(therapist, ids["parent_id"], timeout=10)


def samples(person: Participant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = person.page.evaluate("() => window.__benchSamples || []")
    return found


def now_ms(person: Participant) -> float:
    return float(person.page.evaluate("Date.now()"))
