"""The therapist's controls: decline a waiter, remove a participant, withdraw a link; bad links."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from e2e_flows import (
    Live,
    Participant,
    admit,
    knock,
    login,
    open_call,
    start_call_with_parent,
    start_session,
    wait_until,
)

pytestmark = pytest.mark.browser


def test_decline_then_remove(live: Live, launch: Callable[[str], Participant]) -> None:
    therapist = launch("therapist")
    parent = launch("parent")
    login(therapist, live)
    links = start_session(therapist, live, "Moderation e2e")
    open_call(therapist, live, links["id"])

    # Declined from the waiting room.
    p_id = knock(parent, links["parent"], check_devices=False)
    waiting = therapist.page.locator(f"#waiting-list li[data-participant='{p_id}']")
    waiting.locator("button.decline").click()
    parent.wait_phase("declined")
    assert "did not admit" in parent.page.locator("#done-message").inner_text()
    therapist.page.locator("#lobby-panel").wait_for(state="hidden")

    # A declined parent may knock again; this time admitted, then removed from the call.
    p_id = knock(parent, links["parent"], check_devices=False)
    admit(therapist, p_id)
    parent.wait_phase("call")
    item = therapist.page.locator(f"#participant-list li[data-participant='{p_id}']")
    item.locator("button:has-text('Remove')").click()
    parent.wait_phase("removed")
    assert "removed you" in parent.page.locator("#done-message").inner_text()
    wait_until(lambda: item.count() == 0, 10, "the removed parent is still listed")
    assert parent.page.locator(".call-main").is_hidden()


def test_withdrawn_link_drops_the_holder_and_is_gone(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, links = start_call_with_parent(live, launch, "Withdraw e2e")
    console = therapist.context.new_page()
    console.goto(f"{live.server.base_url}/sessions/{links['id']}")
    console.locator("li.link-row[data-role=parent] button:has-text('Withdraw link')").click()
    console.locator("li.link-row[data-role=parent][data-active=no]").wait_for()

    # The parent in the call is dropped at once ...
    parent.wait_phase("removed")
    assert "withdrawn" in parent.page.locator("#done-message").inner_text()

    # ... and the link now opens the 410 page.
    response = parent.page.goto(links["parent"])
    assert response is not None
    assert response.status == 410
    assert "expired, was withdrawn" in parent.page.content()
    assert parent.page.locator("#call").count() == 0

    # The observer's link still works.
    response = parent.page.goto(links["observer"])
    assert response is not None
    assert response.status == 200


def test_tampered_link_is_refused(live: Live, launch: Callable[[str], Participant]) -> None:
    therapist = launch("therapist")
    login(therapist, live)
    links = start_session(therapist, live, "Tampered e2e")
    # Change one character of the signed payload (the last character of the signature may only
    # carry padding bits, so changing it can leave the token valid).
    prefix, token = links["parent"].rsplit("/", 1)
    tampered = f"{prefix}/{'x' if token[0] != 'x' else 'y'}{token[1:]}"
    visitor = launch("parent")
    response = visitor.page.goto(tampered)
    assert response is not None
    assert response.status == 403
    assert "not valid" in visitor.page.content()
    assert visitor.page.locator("#call").count() == 0
    # Garbage in place of a token is refused the same way.
    assert httpx.get(f"{live.server.base_url}/join/{links['id']}/garbage").status_code == 403
