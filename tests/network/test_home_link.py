"""A call across a parent's home link: real Chromium on both sides, the link slow and lossy."""

from __future__ import annotations

import pytest
from e2e_flows import start_call_with_parent, wait_audio_growing, wait_frames_growing, wait_until
from netbed import Impairment
from netcall import NetCall, selected_pair

pytestmark = [pytest.mark.network, pytest.mark.browser]

# A weak home connection, both ways (issue 15): 80 ms one-way, 2 % loss, 1 Mbit/s.
HOME = Impairment(rate_kbit=1000, delay_ms=80, loss=0.02)


def test_video_flows_both_ways_across_a_slow_lossy_link(call: NetCall) -> None:
    link = call.sites.link
    link.impair(into=call.sites.parent, impairment=HOME)
    link.impair(into=call.sites.server, impairment=HOME)
    live = call.serve()
    therapist, parent, ids = start_call_with_parent(live, call.launch, "Home link")

    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    wait_frames_growing(parent, ids["therapist_id"], timeout=20)
    wait_audio_growing(therapist, ids["parent_id"], timeout=20)
    wait_audio_growing(parent, ids["therapist_id"], timeout=20)
    # The parent's media crosses the impaired link, straight to the relay (no TURN here).
    pair = wait_until(lambda: selected_pair(parent), 10, "the parent has no candidate pair")
    assert pair["local"]["address"] == link.address(call.sites.parent), pair
    assert pair["remote"]["address"] == link.address(call.sites.server), pair
    assert pair["local"]["protocol"] == "udp", pair
    # And it is delayed there: 80 ms each way.
    assert pair["rtt"]["seconds"] >= 0.15, pair


def test_the_therapist_is_told_when_the_parents_link_is_weak(call: NetCall) -> None:
    """The parent's own quality reports (10 % of what reaches them lost) turn on a hint on the
    therapist's page; the parent sees nothing of it."""
    call.sites.link.impair(into=call.sites.parent, impairment=Impairment(loss=0.10))
    live = call.serve()
    therapist, parent, ids = start_call_with_parent(live, call.launch, "Weak link")
    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    hint = therapist.page.locator("#link-hint")
    # Reports every 5 s, from the second sample of a connection on.
    hint.wait_for(state="visible", timeout=20_000)
    assert "connection is weak" in hint.inner_text()
    assert "packets lost" in hint.inner_text() or "froze" in hint.inner_text()
    assert parent.page.locator("#link-hint").is_hidden()
