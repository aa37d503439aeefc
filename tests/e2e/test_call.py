"""A whole session in real browsers: device check, lobby, admission, media both ways, observer, end.

Three Chromium processes (therapist: blue camera, parent: red, observer: green) talk to a real
server subprocess through its aiortc forwarding relay on loopback.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_flows import (
    Live,
    Participant,
    admit,
    knock,
    login,
    open_call,
    start_session,
    wait_audio_growing,
    wait_frames_growing,
    wait_main_tile_shows,
    wait_until,
)

pytestmark = pytest.mark.browser


def listed(person: Participant) -> dict[str, str]:
    """participant id -> role, as shown in the person's "In this session" list."""
    result: dict[str, str] = person.page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#participant-list li')]"
        ".map((li) => [li.dataset.participant, li.dataset.role]))"
    )
    return result


def wait_lists(person: Participant, expected: dict[str, str]) -> None:
    wait_until(
        lambda: listed(person) == expected, 10, lambda: f"{person.who} lists {listed(person)}"
    )


def test_session_with_parent_and_observer(live: Live, launch: Callable[[str], Participant]) -> None:
    therapist = launch("therapist")
    parent = launch("parent")
    observer = launch("observer")

    login(therapist, live)
    links = start_session(therapist, live, "Parent coaching e2e")
    open_call(therapist, live, links["id"])
    t_id = therapist.participant_id()

    # The parent checks the camera and microphone, joins, and waits in the lobby.
    p_id = knock(parent, links["parent"])
    waiting = therapist.page.locator(f"#waiting-list li[data-participant='{p_id}']")
    waiting.wait_for(state="visible")
    assert "Parent" in waiting.inner_text()
    assert parent.page.locator("section.lobby").is_visible()
    assert parent.page.locator("section.check").is_hidden()
    assert parent.page.locator(".call-main").is_hidden()
    assert parent.media_stats() == {}

    admit(therapist, p_id)
    parent.wait_phase("call")
    assert parent.participant_id() == p_id
    assert parent.page.locator(".call-main").is_visible()
    assert parent.page.locator("section.lobby").is_hidden()
    # Only the therapist can end the session for everyone.
    assert parent.page.locator("#btn-end").is_hidden()
    assert therapist.page.locator("#btn-end").is_visible()
    therapist.page.locator("#lobby-panel").wait_for(state="hidden")

    # Each sees and hears the other; the large tile shows the other's camera.
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    wait_audio_growing(parent, t_id)
    wait_audio_growing(therapist, p_id)
    wait_main_tile_shows(parent, "therapist")
    wait_main_tile_shows(therapist, "parent")

    # The observer knocks too, is admitted, and receives both without sending anything.
    o_id = knock(observer, links["observer"], check_devices=False)
    admit(therapist, o_id)
    observer.wait_phase("call")
    for pid in (p_id, t_id):
        wait_frames_growing(observer, pid)
        wait_audio_growing(observer, pid)
    wait_main_tile_shows(observer, "parent")
    # Nothing to publish: no mute, camera or device controls for the observer.
    for control in ("#btn-mic", "#btn-cam", "#device-pickers", "#btn-end"):
        assert observer.page.locator(control).is_hidden(), control
    assert observer.outbound_stats() == {"audioBytes": 0, "videoBytes": 0}
    senders_with_tracks = observer.page.evaluate(
        "() => window.tandemCall.peer.pc.getSenders().filter((s) => s.track).length"
    )
    assert senders_with_tracks == 0
    expected = {t_id: "therapist", p_id: "parent", o_id: "observer"}
    for person in (therapist, parent, observer):
        wait_lists(person, expected)
    # The observer has no tile anywhere: nobody sees an empty video of them.
    for person in (therapist, parent):
        assert person.page.locator(f"figure.remote[data-participant='{o_id}']").count() == 0

    # The parent and therapist still get each other's media after the renegotiation.
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)

    # Muting shows on everyone's screen.
    therapist.page.click("#btn-mic")
    t_tile = parent.page.locator(f"figure.remote[data-participant='{t_id}'] figcaption")
    wait_until(lambda: "muted" in t_tile.inner_text(), 10, "the parent does not see the mute")
    therapist.page.click("#btn-mic")
    wait_until(lambda: "muted" not in t_tile.inner_text(), 10, "the parent still sees a mute")

    # The therapist ends the session: everyone else sees the end.
    therapist.page.click("#btn-end")
    for person in (parent, observer):
        person.wait_phase("ended")
        assert person.page.locator("#done-message").is_visible()
        assert person.page.locator(".call-main").is_hidden()
    therapist.wait_phase("ended")
    assert observer.outbound_stats() == {"audioBytes": 0, "videoBytes": 0}
