from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar
from starlette.testclient import TestClient

HTML = {"accept": "text/html"}


def test_feed_parses_has_the_events_and_revokes(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    headers = {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}
    kid = client.post(
        "/api/v1/clients",
        json={"first_name": "Maya", "last_name": "Okafor", "date_of_birth": "2019-04-12",
              "time_zone": "America/Chicago", "home_state": "IL",
              "notes": "Fine-motor goals"},
        headers=headers,
    ).json()["id"]  # fmt: skip
    client.post(
        "/profile/licenses",
        data=helpers.form(client, "/profile", kind="license", state="IL", number="1",
                          expires_on="2035-01-01"),
    )  # fmt: skip
    # Tomorrow (in the therapist's zone), inside the feed's window.
    day = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=1)).date().isoformat()
    booked = client.post(
        "/api/v1/appointments",
        json={"client_id": kid, "date": day, "start_time": "09:00", "mode": "telehealth",
              "service_type": "ot_treatment", "override_reason": "no template in this test"},
        headers=headers,
    )  # fmt: skip
    assert booked.status_code == 201, booked.text
    appt = booked.json()["appointments"][0]

    page = client.post("/profile/calendar-feed", data=helpers.form(client, "/profile"))
    assert page.status_code == 200
    match = re.search(r"http://testserver(/calendar/[A-Za-z0-9_-]{43}\.ics)", page.text)
    assert match, "the new URL is shown once"
    feed_path = match.group(1)

    response = client.get(feed_path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert str(event["uid"]) == f"{appt['id']}@tandem"
    assert str(event["summary"]) == "M.O. · Telehealth"
    assert event.decoded("dtstart").astimezone(UTC) == datetime.fromisoformat(appt["starts_at"])
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=60)
    body = response.text
    assert "Okafor" not in body
    assert "Fine-motor" not in body

    # Rotating replaces the URL; revoking ends it.
    client.post("/profile/calendar-feed", data=helpers.form(client, "/profile"))
    assert client.get(feed_path).status_code == 404
    client.post("/profile/calendar-feed/revoke", data=helpers.form(client, "/profile"))
    assert client.get("/calendar/" + "x" * 43 + ".ics").status_code == 404


def test_revoked_feed_is_404(client: TestClient, therapist: Any, helpers: Any) -> None:
    page = client.post("/profile/calendar-feed", data=helpers.form(client, "/profile"))
    match = re.search(r"http://testserver(/calendar/[A-Za-z0-9_-]+\.ics)", page.text)
    assert match
    assert client.get(match.group(1)).status_code == 200
    revoked = client.post("/profile/calendar-feed/revoke", data=helpers.form(client, "/profile"))
    assert revoked.status_code == 303
    assert client.get(match.group(1)).status_code == 404
