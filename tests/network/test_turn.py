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


def test_parent_without_udp_and_without_turn_never_connects(call: NetCall) -> None:
    """Today's behaviour, for the record: ICE stays in "checking" (the page rebuilds the peer
    connection after ~15 s and shows "Reconnecting…"); telling the parent why is issue 16's."""
    call.sites.link.block_udp()
    live = call.serve()
    therapist, parent, ids = start_call_with_parent(live, call.launch, "No UDP, no TURN")
    states: set[str] = set()
    # With a path, media flows within a second or two of admission (see the tests above).
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        states.add(parent.page.evaluate("() => window.tandemCall.peer?.pc.connectionState"))
        assert frames_from(therapist, ids["parent_id"]) == 0
        assert frames_from(parent, ids["therapist_id"]) == 0
        time.sleep(0.25)
    assert "connected" not in states, states
    # UDP was the only thing missing: let it through and the call comes up by itself.
    call.sites.link.block_udp(False)
    wait_frames_growing(therapist, ids["parent_id"], timeout=30)
    wait_frames_growing(parent, ids["therapist_id"], timeout=30)
