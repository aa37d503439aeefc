"""A parent whose network drops comes back into the call on its own, without a second admission."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from e2e_flows import (
    Live,
    Participant,
    frames_from,
    start_call_with_parent,
    wait_audio_growing,
    wait_frames_growing,
    wait_until,
)

pytestmark = pytest.mark.browser


def test_parent_reconnects_after_connection_loss(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, ids = start_call_with_parent(live, launch, "Reconnect e2e")
    t_id, p_id = ids["therapist_id"], ids["parent_id"]
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    # Remember the old peer connection, and every phase the page goes through from now on.
    parent.page.evaluate(
        """() => {
          window.__oldPc = window.tandemCall.peer.pc;
          window.__phases = [];
          const root = document.getElementById("call");
          new MutationObserver(() => window.__phases.push(root.dataset.phase))
            .observe(root, { attributes: true, attributeFilter: ["data-phase"] });
        }"""
    )

    # The network goes away: the signaling socket and the peer connection both die.
    dropped_at = time.monotonic()
    parent.page.evaluate(
        "() => { const c = window.tandemCall; c.peer.pc.close(); c.signaling.ws.close(); }"
    )

    # Back within 10 s: a new peer connection, same participant, never in the lobby again.
    def back_in_call() -> bool:
        return bool(
            parent.page.evaluate(
                "() => { const c = window.tandemCall; return c.root.dataset.phase === 'call'"
                " && c.peer !== null && c.peer.pc !== window.__oldPc"
                " && c.peer.pc.connectionState === 'connected'; }"
            )
        )

    wait_until(back_in_call, 10, lambda: f"parent not back in the call: {parent.console[-10:]}")
    assert parent.participant_id() == p_id
    wait_until(
        lambda: frames_from(parent, t_id) > 0,
        10 - (time.monotonic() - dropped_at),
        lambda: f"no video from the therapist after the reconnect: {parent.media_stats()}",
    )
    phases = parent.page.evaluate("() => window.__phases || []")
    assert "lobby" not in phases
    assert therapist.page.locator("#waiting-list li").count() == 0

    # Media flows both ways again on the new connection.
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    wait_audio_growing(parent, t_id)
    wait_audio_growing(therapist, p_id)
    item = therapist.page.locator(f"#participant-list li[data-participant='{p_id}']")
    wait_until(lambda: "reconnecting" not in item.inner_text(), 10, "still shown as reconnecting")


def test_a_closed_tab_leaves_at_once(live: Live, launch: Callable[[str], Participant]) -> None:
    """Not a disconnect held open for the 30 s reconnect grace: the page says `leave` as it goes."""
    therapist, parent, ids = start_call_with_parent(live, launch, "Closed tab")
    p_id = ids["parent_id"]
    item = therapist.page.locator(f"#participant-list li[data-participant='{p_id}']")
    item.wait_for(state="attached")
    parent.page.close()
    wait_until(lambda: item.count() == 0, 3, "the parent is still listed after closing the tab")
