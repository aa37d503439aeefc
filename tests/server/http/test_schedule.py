from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

HTML = {"accept": "text/html"}
MONDAY = date(2027, 3, 1)
TUESDAY = MONDAY + timedelta(days=1)


def token(client: TestClient, helpers: Any) -> dict[str, str]:
    return {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}


def setup_practice(client: TestClient, helpers: Any, home_state: str = "IL") -> dict[str, str]:
    """Through the real pages and API: a client, a clinic, an IL license, a weekly template."""
    headers = token(client, helpers)
    kid = client.post(
        "/api/v1/clients",
        json={
            "first_name": "Maya", "last_name": "Okafor", "date_of_birth": "2019-04-12",
            "time_zone": "America/Phoenix", "home_state": home_state,
            "caregivers": [{"name": "Ada", "relationship": "Mother", "email": "ada@example.test"}],
        },
        headers=headers,
    )  # fmt: skip
    assert kid.status_code == 201, kid.text
    for path, fields in (
        ("/profile/time-zone", {"time_zone": "America/Chicago"}),
        ("/profile/locations", {"kind": "clinic", "name": "Northside", "address": "1 Main St"}),
        ("/profile/licenses", {"kind": "license", "state": "IL", "number": "1",
                               "expires_on": "2030-01-01"}),
    ):  # fmt: skip
        response = client.post(path, data=helpers.form(client, "/profile", **fields))
        assert response.status_code == 303, response.text
    locations = client.get("/profile", headers=HTML).text
    match = re.search(r'<option value="([0-9a-f-]{36})">Northside</option>', locations)
    assert match
    clinic = match.group(1)
    for body in (
        {"weekday": 0, "start_time": "08:00", "end_time": "12:00", "mode": "in_person",
         "location_id": clinic},
        {"weekday": 1, "start_time": "08:00", "end_time": "12:00", "mode": "telehealth"},
    ):  # fmt: skip
        created = client.post("/api/v1/availability/blocks", json=body, headers=headers)
        assert created.status_code == 201, created.text
    return {"client": kid.json()["id"], "clinic": clinic}


def booking(ids: dict[str, str], **overrides: str) -> dict[str, str]:
    return {
        "client_id": ids["client"], "date": TUESDAY.isoformat(), "start_time": "09:00",
        "duration_minutes": "60", "mode": "telehealth", "service_type": "ot_treatment",
        **overrides,
    }  # fmt: skip


def test_booking_form_happy_path_and_appointment_page(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    ids = setup_practice(client, helpers)
    form_page = client.get("/schedule/new", headers=HTML)
    assert form_page.status_code == 200
    assert 'src="/static/js/schedule_form.js"' in form_page.text
    response = client.post(
        "/schedule/appointments", data=helpers.form(client, "/schedule/new", **booking(ids))
    )
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"], headers=HTML)
    assert "Maya Okafor" in page.text
    assert "9:00 AM" in page.text
    assert "8:00 AM MST" in page.text
    assert re.search(r"<button[^>]*id=\"start-video\"", page.text)
    week = client.get(f"/schedule?week={TUESDAY.isoformat()}", headers=HTML)
    assert week.status_code == 200
    assert "Maya Okafor" in week.text
    assert "mode-telehealth" in week.text
    day = client.get(f"/schedule/day/{TUESDAY.isoformat()}", headers=HTML)
    assert "Maya Okafor" in day.text


def test_booking_form_errors_and_refusals(client: TestClient, therapist: Any, helpers: Any) -> None:
    ids = setup_practice(client, helpers, home_state="WI")
    missing = client.post(
        "/schedule/appointments",
        data=helpers.form(client, "/schedule/new", **booking(ids, start_time="", mode="")),
        headers=HTML,
    )
    assert missing.status_code == 422
    assert "Enter a start time" in missing.text
    assert "Choose in person or telehealth" in missing.text
    refused = client.post(
        "/schedule/appointments",
        data=helpers.form(client, "/schedule/new", **booking(ids)),
        headers=HTML,
    )
    assert refused.status_code == 422
    assert "no active license or compact privilege in Wisconsin (WI)" in refused.text
    assert 'value="09:00"' in refused.text  # input kept


def test_outside_block_override_through_the_form(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    ids = setup_practice(client, helpers)
    late = booking(ids, start_time="18:00")
    refused = client.post(
        "/schedule/appointments", data=helpers.form(client, "/schedule/new", **late), headers=HTML
    )
    assert refused.status_code == 422
    assert "outside your telehealth hours" in refused.text
    late["override_reason"] = "Parent works late"
    ok = client.post("/schedule/appointments", data=helpers.form(client, "/schedule/new", **late))
    assert ok.status_code == 303
    page = client.get(ok.headers["location"], headers=HTML)
    assert "Booked with an override" in page.text
    assert "Parent works late" in page.text


def test_instant_validation_endpoint(client: TestClient, therapist: Any, helpers: Any) -> None:
    ids = setup_practice(client, helpers)
    headers = token(client, helpers)
    partial = client.post("/api/v1/appointments/check", json={"client_id": ids["client"]},
                          headers=headers)  # fmt: skip
    assert partial.status_code == 200
    assert partial.json()["ok"] is False
    assert "date" in partial.json()["errors"]
    fine = client.post("/api/v1/appointments/check", json=booking(ids), headers=headers).json()
    assert (fine["ok"], fine["problems"], fine["occurrences"]) == (True, [], 1)
    assert fine["client_local"] == "Tue Mar 2, 8:00 AM MST"  # the Phoenix family's clock
    client.post("/api/v1/appointments", json=booking(ids), headers=headers)
    clash = client.post("/api/v1/appointments/check", json=booking(ids), headers=headers).json()
    assert clash["ok"] is False
    assert [p["code"] for p in clash["problems"]] == ["conflict"]
    elsewhere = client.post(
        "/api/v1/appointments/check", json=booking(ids, client_state="WI", start_time="10:00"),
        headers=headers,
    ).json()  # fmt: skip
    assert [p["code"] for p in elsewhere["problems"]] == ["licensure"]
    assert "Wisconsin (WI)" in elsewhere["problems"][0]["message"]
    no_csrf = client.post("/api/v1/appointments/check", json=booking(ids))
    assert no_csrf.status_code == 403


def test_api_booking_status_and_cancel(client: TestClient, therapist: Any, helpers: Any) -> None:
    ids = setup_practice(client, helpers)
    headers = token(client, helpers)
    weekly = booking(ids, repeat="weekly", repeat_count="3")
    created = client.post("/api/v1/appointments", json=weekly, headers=headers)
    assert created.status_code == 201, created.text
    appts = created.json()["appointments"]
    assert len(appts) == 3
    assert len({a["series_id"] for a in appts}) == 1
    again = client.post("/api/v1/appointments", json=booking(ids), headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["problems"][0]["code"] == "conflict"
    first = appts[0]["id"]
    no_reason = client.post(
        f"/api/v1/appointments/{first}/status", json={"status": "cancelled"}, headers=headers
    )
    assert no_reason.status_code == 422
    cancel = client.post(
        f"/schedule/appointments/{first}/status",
        data=helpers.form(client, f"/schedule/appointments/{first}", status="cancelled",
                          reason="Child is sick"),
    )  # fmt: skip
    assert cancel.status_code == 303
    shown = client.get(f"/api/v1/appointments/{first}").json()
    assert (shown["status"], shown["cancel_reason"]) == ("cancelled", "Child is sick")
    listed = client.get(f"/api/v1/appointments?week={TUESDAY.isoformat()}").json()
    assert [a["status"] for a in listed["appointments"]] == ["cancelled"]


def test_reschedule_this_and_following_through_the_form(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    ids = setup_practice(client, helpers)
    headers = token(client, helpers)
    appts = client.post(
        "/api/v1/appointments", json=booking(ids, repeat="weekly", repeat_count="3"),
        headers=headers,
    ).json()["appointments"]  # fmt: skip
    second = appts[1]["id"]
    edit_url = f"/schedule/appointments/{second}/edit"
    assert "This and all following" in client.get(edit_url, headers=HTML).text
    moved = client.post(
        edit_url,
        data=helpers.form(client, edit_url, **booking(
            ids, date=(TUESDAY + timedelta(days=7)).isoformat(), start_time="10:30"),
            scope="following"),
    )  # fmt: skip
    assert moved.status_code == 303, moved.text
    starts = [client.get(f"/api/v1/appointments/{a['id']}").json()["starts_at"] for a in appts]
    chicago = ZoneInfo("America/Chicago")
    local = [datetime.fromisoformat(s).astimezone(chicago).strftime("%H:%M") for s in starts]
    # The third visit falls after the Mar 14 2027 spring-forward and still reads 10:30.
    assert local == ["09:00", "10:30", "10:30"]


def test_invite_goes_to_the_outbox(client: TestClient, therapist: Any, helpers: Any) -> None:
    ids = setup_practice(client, helpers)
    created = client.post(
        "/api/v1/appointments", json=booking(ids), headers=token(client, helpers)
    ).json()["appointments"][0]["id"]
    page = client.get(f"/schedule/appointments/{created}", headers=HTML).text
    caregiver = re.search(r'<option value="([0-9a-f-]{36})">Ada', page)
    assert caregiver
    sent = client.post(
        f"/schedule/appointments/{created}/invite",
        data=helpers.form(client, f"/schedule/appointments/{created}",
                          caregiver_id=caregiver.group(1)),
    )  # fmt: skip
    assert sent.status_code == 303
    # The outbox worker sends it after the commit (logged: no SMTP server is configured here).
    deadline = time.monotonic() + 15
    while "· sent" not in (
        page := client.get(f"/schedule/appointments/{created}", headers=HTML).text
    ):
        assert time.monotonic() < deadline, "the invite was not sent"
        time.sleep(0.1)
    assert "ada@example.test" in page


def test_profile_validation_and_pages(client: TestClient, therapist: Any, helpers: Any) -> None:
    bad = client.post(
        "/profile/licenses",
        data=helpers.form(client, "/profile", kind="license", state="ZZ", expires_on="soon"),
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "Choose the state." in bad.text
    assert "Enter the expiry date" in bad.text
    assert client.get("/schedule", headers=HTML).status_code == 200
    assert "No availability yet" in client.get("/schedule", headers=HTML).text
    assert client.get("/schedule/health", headers=HTML).status_code == 200
    assert client.get("/schedule/day/not-a-date", headers=HTML).status_code == 404
    home = client.get("/", headers=HTML)
    assert "This week" in home.text
    assert "Schedule health" in home.text


def test_schedule_pages_need_sign_in(client: TestClient) -> None:
    assert client.get("/schedule", headers=HTML).status_code == 303
    assert client.get("/api/v1/appointments").status_code == 401


def test_starting_telehealth_rechecks_the_license(
    client: TestClient, therapist: Any, helpers: Any
) -> None:
    ids = setup_practice(client, helpers)
    headers = token(client, helpers)
    appt = client.post("/api/v1/appointments", json=booking(ids), headers=headers).json()
    appt_id = appt["appointments"][0]["id"]
    profile = client.get("/profile", headers=HTML).text
    license_id = re.search(r"/profile/licenses/([0-9a-f-]{36})/delete", profile)
    assert license_id
    client.post(
        f"/profile/licenses/{license_id.group(1)}/delete", data=helpers.form(client, "/profile")
    )
    start = client.post(
        f"/schedule/appointments/{appt_id}/status",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}", status="in_session"),
        headers=HTML,
    )
    assert start.status_code == 422
    assert "no active license or compact privilege in Illinois (IL)" in start.text
    assert client.get(f"/api/v1/appointments/{appt_id}").json()["status"] == "booked"


@pytest.mark.parametrize("week", ["0001-01-01", "9999-12-31", "abc", "2026-13-01"])
def test_a_week_that_makes_no_sense_is_a_400(client: TestClient, therapist: Any, week: str) -> None:
    page = client.get(f"/schedule?week={week}", headers={"accept": "text/html"})
    assert page.status_code == 400
    assert "date like" in page.text
    assert client.get(f"/schedule/health?week={week}").status_code == 400


def test_a_day_outside_the_calendar_is_not_found(client: TestClient, therapist: Any) -> None:
    assert client.get("/schedule/day/0001-01-01").status_code == 404
