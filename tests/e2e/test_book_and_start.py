"""In the browser: book a telehealth visit with the booking form, start its video session from
the appointment page in one click, and the parent (confirming their state) joins it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from e2e_flows import (
    Live,
    Participant,
    admit,
    knock,
    login,
    wait_frames_growing,
)

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("America/Chicago")


def set_up_practice(therapist: Participant, live: Live) -> None:
    """Through the real pages: time zone, an Illinois license, a client with a caregiver."""
    page = therapist.page
    base = live.server.base_url
    page.goto(f"{base}/profile")
    page.fill("#time_zone", "America/Chicago")
    page.locator("form[action='/profile/time-zone'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/profile.*"))
    page.select_option("#lic-kind", "license")
    page.select_option("#lic-state", "IL")
    page.fill("#lic-number", "OT-0042")
    page.fill("#lic-exp", "2031-01-31")
    page.locator("form[action='/profile/licenses'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/profile.*"))
    assert "OT-0042" in page.content()
    page.goto(f"{base}/clients/new")
    page.fill("#first_name", "Nia")
    page.fill("#last_name", "Booker")
    page.fill("#date_of_birth", "2020-05-17")
    page.select_option("#home_state", "IL")
    page.fill("#time_zone", "America/Chicago")
    page.fill("#caregiver-0-name", "Tess Booker")
    page.fill("#caregiver-0-relationship", "Mother")
    page.fill("#caregiver-0-email", "tess@example.test")
    page.click("button:has-text('Add client')")
    page.wait_for_url(re.compile(r".*/clients/[0-9a-f-]{36}$"))


def test_book_telehealth_and_start_its_video_session(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist = launch("therapist")
    login(therapist, live)
    set_up_practice(therapist, live)
    page = therapist.page

    start = (datetime.now(ZONE) + timedelta(minutes=20)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    page.goto(f"{live.server.base_url}/schedule/new")
    page.select_option("#client_id", label="Nia Booker (IL)")
    page.select_option("#service_type", index=1)
    page.fill("#date", start.date().isoformat())
    page.fill("#start_time", f"{start:%H:%M}")
    page.select_option("#duration_minutes", "30")
    page.check("input[name=mode][value=telehealth]")
    page.select_option("#client_state", "IL")
    # No weekly template in this fresh practice: the visit is outside every block.
    page.fill("#override_reason", "First visit, outside the usual telehealth block")
    page.click("#booking-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/schedule/appointments/[0-9a-f-]{36}.*"))
    assert "Nia Booker" in page.content()

    # One click: licensure re-checked, waiting room open, the therapist in the call.
    page.click("#start-video")
    page.wait_for_url(re.compile(r".*/sessions/[0-9a-f-]{36}/call$"))
    therapist.wait_phase("call")
    session_id = page.url.rsplit("/", 2)[1]

    page.go_back()
    page.reload()
    parent_url = page.input_value("#parent-url")
    assert f"/join/{session_id}/" in parent_url
    assert page.locator("#open-video").is_visible()
    page.click("#open-video")
    therapist.wait_phase("call")

    parent = launch("parent")
    parent.page.goto(parent_url)
    parent.wait_phase("check")
    # The family confirms where they are; Illinois is covered, so they may knock.
    assert parent.page.input_value("#location-state") == "IL"
    pid = knock(parent, parent_url)
    admit(therapist, pid)
    parent.wait_phase("call")
    wait_frames_growing(therapist, pid)
    wait_frames_growing(parent, therapist.participant_id())
