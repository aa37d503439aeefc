"""Recording consent in real browsers: the dialog, the indicator, and the therapist's controls.

The server records for real (server/video/recording.py); these tests look at the consent flow and
the states it drives (docs/signaling.md, "Recording and consent").
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from e2e_flows import (
    Live,
    Participant,
    consent_dialog_open,
    names_in,
    recording_state,
    start_call_with_everyone,
    wait_consent_dialog,
    wait_recording_state,
    wait_until,
)

pytestmark = pytest.mark.browser


def label(person: Participant) -> str:
    return person.page.inner_text("#recording-label").strip()


def active_is_in_dialog(person: Participant) -> str:
    """The id of the focused element if it is inside the consent dialog, else ''."""
    focused: str = person.page.evaluate(
        "() => document.activeElement && document.activeElement.closest('#consent-dialog')"
        " ? document.activeElement.id || document.activeElement.tagName : ''"
    )
    return focused


def test_everyone_accepts_and_everyone_sees_the_indicator(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, observer, _ = start_call_with_everyone(live, launch, "Consent e2e")
    everyone = (therapist, parent, observer)
    for person in everyone:
        # Entering the room, each is told that nothing is recorded.
        wait_recording_state(person, "off")
        assert label(person) == ""
    # Only the therapist has the recording controls.
    assert therapist.page.locator("#btn-record").is_visible()
    for person in (parent, observer):
        assert person.page.locator("#btn-record").is_hidden()

    therapist.page.click("#btn-record")
    for person in (parent, observer):
        wait_consent_dialog(person)
        text = person.page.inner_text("#consent-text").strip()
        assert len(text) > 20, text
        # The dialog has the focus (its text first, so Enter cannot accept by accident).
        assert active_is_in_dialog(person) == "consent-text"
        assert person.page.locator("#consent-accept").is_visible()
    # The asking therapist consents by asking: no dialog for them.
    assert not consent_dialog_open(therapist)
    for person in everyone:
        wait_recording_state(person, "awaiting_consent")
        assert label(person) == "Waiting for consent"
    wait_until(
        lambda: sorted(names_in(therapist, "#recording-pending li")) == ["Observer", "Parent"],
        10,
        lambda: f"the therapist's pending list: {names_in(therapist, '#recording-pending li')}",
    )

    # The parent clicks Accept; the observer uses the keyboard: Tab stays inside the dialog
    # (text -> Decline -> Accept -> back to the text), Enter on Accept.
    parent.page.click("#consent-accept")
    keys = observer.page.keyboard
    keys.press("Tab")
    assert active_is_in_dialog(observer) == "consent-decline"
    keys.press("Tab")
    assert active_is_in_dialog(observer) == "consent-accept"
    keys.press("Tab")
    assert active_is_in_dialog(observer) == "consent-text"
    keys.press("Shift+Tab")
    assert active_is_in_dialog(observer) == "consent-accept"
    keys.press("Enter")

    for person in everyone:
        wait_recording_state(person, "recording")
        assert label(person) == "Recording"
        assert person.page.locator("#recording-indicator .rec-dot").is_visible()
        assert not consent_dialog_open(person)
    assert names_in(therapist, "#recording-pending li") == []
    # Those who agreed can take it back.
    assert parent.page.locator("#btn-consent-withdraw").is_visible()

    # Pause and resume reach everyone; the clock shows recorded time.
    therapist.page.click("#btn-rec-pause")
    for person in everyone:
        wait_recording_state(person, "paused")
        assert label(person) == "Recording paused"
    assert therapist.page.locator("#btn-rec-resume").is_visible()
    therapist.page.click("#btn-rec-resume")
    for person in everyone:
        wait_recording_state(person, "recording")

    # A parent who withdraws pauses the recording for everyone, and the therapist sees why.
    parent.page.click("#btn-consent-withdraw")
    for person in everyone:
        wait_recording_state(person, "awaiting_consent")
    wait_until(
        lambda: names_in(therapist, "#recording-declined li") == ["Parent"],
        10,
        lambda: f"the therapist's declined list: {names_in(therapist, '#recording-declined li')}",
    )

    therapist.page.click("#btn-rec-stop")  # the confirm() is accepted by the test harness
    for person in everyone:
        wait_recording_state(person, "stopped")
        assert label(person) == "Recording stopped"
    assert therapist.page.locator("#btn-record").inner_text() == "Record again"


def test_a_decline_holds_the_recording_and_the_therapist_sees_who(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, observer, _ = start_call_with_everyone(live, launch, "Decline e2e")
    everyone = (therapist, parent, observer)
    therapist.page.click("#btn-record")
    wait_consent_dialog(parent)
    wait_consent_dialog(observer)

    parent.page.click("#consent-accept")
    # Escape closes the dialog without answering; the request can be answered later.
    observer.page.keyboard.press("Escape")
    wait_until(lambda: not consent_dialog_open(observer), 5, "Escape did not close the dialog")
    review = observer.page.locator("#btn-consent-review")
    review.wait_for(state="visible")
    review.click()
    wait_consent_dialog(observer)
    observer.page.click("#consent-decline")

    wait_until(
        lambda: names_in(therapist, "#recording-declined li") == ["Observer"],
        10,
        lambda: f"the therapist's declined list: {names_in(therapist, '#recording-declined li')}",
    )
    assert therapist.page.locator("#recording-refused").is_visible()
    # The state stays held for everyone: nothing is recorded while someone declines.
    for person in everyone:
        wait_recording_state(person, "awaiting_consent")
    # Only the therapist learns who declined.
    for person in (parent, observer):
        assert names_in(person, "#recording-declined li") == []
        assert person.page.locator("#recording-refused").is_hidden()
    assert "declined" in observer.page.inner_text("#recording-my-answer")
    # Still held a moment later (a recording state that flips on its own would show here).
    observer.page.wait_for_timeout(1000)
    for person in everyone:
        assert recording_state(person) == "awaiting_consent"

    # The therapist asks again; the observer changes their mind and the recording starts.
    ask = therapist.page.locator("#btn-record")
    assert ask.inner_text() == "Ask again"
    ask.click()
    wait_consent_dialog(observer)
    assert not consent_dialog_open(parent)  # acceptances are kept
    observer.page.click("#consent-accept")
    for person in everyone:
        wait_recording_state(person, "recording")
    assert names_in(therapist, "#recording-declined li") == []
