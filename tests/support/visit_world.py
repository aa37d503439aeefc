"""A therapist's practice built through the HTTP API (a child in Illinois with a caregiver who
has an email address, an Illinois license) and visits booked in it: for the tests that sign in
with a TestClient and act as the therapist."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.testclient import TestClient

ZONE = ZoneInfo("America/Chicago")
CAREGIVER_EMAIL = "jonas@example.test"


def practice(client: TestClient, helpers: Any) -> str:
    """The child's id: Leo Brandt, caregiver Jonas Brandt (CAREGIVER_EMAIL)."""
    headers = {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}
    kid = client.post(
        "/api/v1/clients",
        json={
            "first_name": "Leo", "last_name": "Brandt", "date_of_birth": "2020-09-03",
            "time_zone": "America/Chicago", "home_state": "IL",
            "caregivers": [{"name": "Jonas Brandt", "relationship": "Father",
                            "email": CAREGIVER_EMAIL}],
        },
        headers=headers,
    )  # fmt: skip
    assert kid.status_code == 201, kid.text
    for path, fields in (
        ("/profile/time-zone", {"time_zone": "America/Chicago"}),
        ("/profile/licenses", {"kind": "license", "state": "IL", "number": "OT-1",
                               "expires_on": "2031-01-01"}),
    ):  # fmt: skip
        response = client.post(path, data=helpers.form(client, "/profile", **fields))
        assert response.status_code == 303, response.text
    cid: str = kid.json()["id"]
    return cid


def book_soon(
    client: TestClient,
    helpers: Any,
    client_id: str,
    minutes_ahead: int = 20,
    *,
    mode: str = "telehealth",
) -> str:
    """Books a 30-minute visit about ``minutes_ahead`` from now (on a 5-minute mark)."""
    start = (datetime.now(ZONE) + timedelta(minutes=minutes_ahead)).replace(second=0)
    start -= timedelta(minutes=start.minute % 5)
    fields = {
        "client_id": client_id, "date": start.date().isoformat(),
        "start_time": f"{start:%H:%M}", "duration_minutes": "30", "mode": mode,
        "service_type": "ot_treatment", "client_state": "IL",
        "override_reason": "Test visit outside the weekly template",
    }  # fmt: skip
    response = client.post(
        "/schedule/appointments", data=helpers.form(client, "/schedule/new", **fields)
    )
    assert response.status_code == 303, response.text
    match = re.search(r"/schedule/appointments/([0-9a-f-]{36})", response.headers["location"])
    assert match
    return match.group(1)


def send_to_caregiver(client: TestClient, helpers: Any, appt_id: str, action: str) -> None:
    """Posts the appointment page's form that emails Jonas: ``invite`` or ``video/invite``."""
    page = client.get(f"/schedule/appointments/{appt_id}", headers={"accept": "text/html"}).text
    caregiver = re.search(r'<option value="([0-9a-f-]{36})">Jonas', page)
    assert caregiver, "no caregiver to choose"
    sent = client.post(
        f"/schedule/appointments/{appt_id}/{action}",
        data=helpers.form(
            client, f"/schedule/appointments/{appt_id}", caregiver_id=caregiver.group(1)
        ),
    )
    assert sent.status_code == 303, sent.text
