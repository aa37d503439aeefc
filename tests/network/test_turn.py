"""TURN as a real component: a parent whose network blocks UDP reaches the relay through coturn."""

from __future__ import annotations

import time

import pytest
from e2e_flows import (
    frames_from,
    start_call_with_parent,
    wait_audio_growing,
    wait_frames_growing,
    wait_until,
)
from netcall import NetCall, selected_pair

pytestmark = [pytest.mark.network, pytest.mark.browser]


def test_parent_without_udp_connects_through_turn_over_tcp(call: NetCall) -> None:
    turn = call.start_turn()
    call.sites.link.block_udp()
    live = call.serve(TANDEM_TURN_URLS=turn.urls("tcp"), TANDEM_TURN_SECRET=turn.secret)

    therapist, parent, ids = start_call_with_parent(live, call.launch, "TURN over TCP")
    wait_frames_growing(therapist, ids["parent_id"], timeout=20)
    wait_frames_growing(parent, ids["therapist_id"], timeout=20)
    wait_audio_growing(therapist, ids["parent_id"], timeout=20)
    # Nothing but TURN over TCP could carry it, and the browser says that is what it uses.
    pair = wait_until(lambda: selected_pair(parent), 10, "the parent has no pair")
    assert pair["local"]["type"] == "relay", pair
    assert pair["local"]["relayProtocol"] == "tcp", pair
    assert pair["local"]["address"] == turn.address, pair


def test_parent_without_udp_and_without_turn_is_told_why_within_20_s(call: NetCall) -> None:
    """ICE never gets through (no UDP, no TURN to go around it): instead of "Reconnecting…"
    forever, the parent's page says what is wrong, while it keeps trying."""
    call.sites.link.block_udp()
    live = call.serve()
    therapist, parent, ids = start_call_with_parent(live, call.launch, "No UDP, no TURN")
    admitted = time.monotonic()
    states: set[str] = set()
    while parent.page.get_attribute("#call", "data-connection") != "failed":
        assert time.monotonic() - admitted < 20, "no reason on screen within 20 s"
        states.add(parent.page.evaluate("() => window.tandemCall.peer?.pc.connectionState"))
        assert frames_from(therapist, ids["parent_id"]) == 0
        time.sleep(0.25)
    assert "connected" not in states, states
    reason = parent.page.locator("#connection-status")
    assert reason.is_visible()
    text = reason.inner_text()
    assert "block" in text, text
    assert "relay" in text, text
    # UDP was the only thing missing: let it through and the call comes up by itself.
    call.sites.link.block_udp(False)
    wait_frames_growing(therapist, ids["parent_id"], timeout=30)
    wait_frames_growing(parent, ids["therapist_id"], timeout=30)
