"""A telehealth appointment starts its video session in one click, behind the licensure gate;
the parent's state confirmation at check-in runs the same gate."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from starlette.testclient import TestClient
from visit_world import book_soon, practice, send_to_caregiver  # tests/support

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, AuditEntry, License, OutboxMessage

HTML = {"accept": "text/html"}
ZONE = ZoneInfo("America/Chicago")


def appointment(settings: Settings, appt_id: str) -> Appointment:
    async def run() -> Appointment:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            row = await session.scalar(select(Appointment).where(Appointment.id == appt_id))
            assert row is not None
            session.expunge(row)
        await engine.dispose()
        return row

    return asyncio.run(run())


def expire_licenses(settings: Settings) -> None:
    async def run() -> None:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            await session.execute(
                update(License).values(expires_on=datetime.now(ZONE).date() - timedelta(days=2))
            )
        await engine.dispose()

    asyncio.run(run())


def knock(parent: TestClient, join_path: str) -> tuple[str, str]:
    """A raw signaling join with the link's token, as a script would send it without the page."""
    _, session_id, token = join_path.rsplit("/", 2)
    with parent.websocket_connect(
        f"/ws/sessions/{session_id}", headers={"origin": "http://testserver"}
    ) as ws:
        ws.send_json({"type": "join", "v": 1, "client_id": "raw-socket-01", "token": token})
        reply = ws.receive_json()
    if reply["type"] == "error":
        return "error", reply["code"]
    return reply["type"], "lobby" if reply.get("lobby") else "room"


def test_start_video_from_the_appointment_in_one_click(
    client: TestClient, therapist: Any, helpers: Any, settings: Settings
) -> None:
    appt_id = book_soon(client, helpers, practice(client, helpers))
    page = client.get(f"/schedule/appointments/{appt_id}", headers=HTML)
    assert 'id="start-video"' in page.text
    started = client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
    )
    assert started.status_code == 303, started.text
    call = re.fullmatch(r"/sessions/([0-9a-f-]{36})/call", started.headers["location"])
    assert call
    row = appointment(settings, appt_id)
    assert row.status == "in_session"
    assert row.video_session_id == call.group(1)
    # The appointment page now offers the call and the parent's link, not a second session.
    page = client.get(f"/schedule/appointments/{appt_id}", headers=HTML)
    assert 'id="open-video"' in page.text
    assert f"/join/{call.group(1)}/" in page.text
    again = client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
    )
    assert again.headers["location"] == started.headers["location"]
    console = client.get(f"/sessions/{call.group(1)}", headers=HTML).text
    assert "Jonas Brandt" in console  # the parent link carries the caregiver's name


def test_start_is_refused_when_no_license_covers_the_state_today(
    client: TestClient, therapist: Any, helpers: Any, settings: Settings
) -> None:
    appt_id = book_soon(client, helpers, practice(client, helpers))
    expire_licenses(settings)
    refused = client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
        headers=HTML,
    )
    assert refused.status_code == 409
    assert "Illinois (IL)" in refused.text
    assert "Profile" in refused.text  # the fix is named
    assert appointment(settings, appt_id).video_session_id is None


def test_starting_days_ahead_is_refused(client: TestClient, therapist: Any, helpers: Any) -> None:
    appt_id = book_soon(client, helpers, practice(client, helpers), minutes_ahead=60 * 30)
    response = client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
        headers=HTML,
    )
    assert response.status_code == 422
    assert "up to an hour before" in response.text


def test_parent_confirms_their_state_at_check_in(
    client: TestClient, therapist: Any, helpers: Any, settings: Settings
) -> None:
    appt_id = book_soon(client, helpers, practice(client, helpers))
    client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
    )
    page = client.get(f"/schedule/appointments/{appt_id}", headers=HTML).text
    match = re.search(r'id="parent-url" class="join-url" readonly value="([^"]+)"', page)
    assert match
    join_path = match.group(1).split("testserver", 1)[1]
    # The parent is another browser: no therapist cookies (one client keeps one event loop).
    client.cookies.clear()
    parent = client
    lobby = parent.get(join_path, headers=HTML)
    assert lobby.status_code == 200
    assert 'id="location-state"' in lobby.text
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', lobby.text)
    assert csrf
    headers = {"x-csrf-token": csrf.group(1), "accept": "application/json"}
    # Before any confirmation, and after the page refused Wisconsin, a raw socket join (the
    # page script skipped) is refused by the server itself.
    assert knock(parent, join_path) == ("error", "location_required")
    elsewhere = parent.post(f"{join_path}/location", data={"state": "WI"}, headers=headers)
    assert elsewhere.status_code == 409
    assert "Wisconsin (WI)" in elsewhere.json()["message"]
    assert appointment(settings, appt_id).client_state == "IL"
    assert knock(parent, join_path) == ("error", "location_required")
    home = parent.post(f"{join_path}/location", data={"state": "IL"}, headers=headers)
    assert home.status_code == 200
    assert home.json()["allowed"] is True
    assert knock(parent, join_path) == ("welcome", "lobby")
    # Saying Wisconsin afterwards takes the confirmation back.
    parent.post(f"{join_path}/location", data={"state": "WI"}, headers=headers)
    assert knock(parent, join_path) == ("error", "location_required")
    no_csrf = parent.post(f"{join_path}/location", data={"state": "IL"})
    assert no_csrf.status_code == 403


def test_join_link_goes_out_through_the_outbox(
    client: TestClient, therapist: Any, helpers: Any, settings: Settings
) -> None:
    appt_id = book_soon(client, helpers, practice(client, helpers))
    client.post(
        f"/schedule/appointments/{appt_id}/video",
        data=helpers.form(client, f"/schedule/appointments/{appt_id}"),
    )
    send_to_caregiver(client, helpers, appt_id, "video/invite")

    async def messages() -> list[OutboxMessage]:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            rows = list(
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == "session.join_link")
                )
            )
        await engine.dispose()
        return rows

    rows = [m for m in asyncio.run(messages()) if str(m.appointment_id) == appt_id]
    assert len(rows) == 1
    assert rows[0].recipient == "jonas@example.test"
    assert "/join/" in rows[0].body


def test_an_ad_hoc_session_for_a_client_passes_the_same_gate(
    client: TestClient, therapist: Any, helpers: Any, settings: Settings
) -> None:
    licensed = practice(client, helpers)  # an Illinois client; the therapist holds IL only
    headers = {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}
    away = client.post(
        "/api/v1/clients",
        json={"first_name": "Mia", "last_name": "Lund", "date_of_birth": "2019-02-01",
              "time_zone": "America/Chicago", "home_state": "WI", "caregivers": []},
        headers=headers,
    )  # fmt: skip
    assert away.status_code == 201, away.text
    refused = client.post(
        "/sessions",
        data=helpers.form(client, "/sessions", title="Ad hoc", client_id=away.json()["id"]),
        headers=HTML,
    )
    assert refused.status_code == 409
    assert "Wisconsin" in refused.text
    rows = [r for r in audit_rows(settings, "video_session.start") if r.object_type == "client"]
    refusals = [(r.object_id, r.outcome, r.detail.get("reason")) for r in rows]
    assert refusals == [(away.json()["id"], "refused", "licensure")]
    allowed = client.post(
        "/sessions", data=helpers.form(client, "/sessions", title="Ad hoc", client_id=licensed)
    )
    assert allowed.status_code == 303
    # Its parent link is gated like a visit's: the family confirms where they are first.
    console = client.get(allowed.headers["location"], headers=HTML).text
    match = re.search(r'class="join-url" readonly value="http://testserver(/join/[^"]+)"', console)
    assert match
    client.cookies.clear()
    assert knock(client, match.group(1)) == ("error", "location_required")


def audit_rows(settings: Settings, action: str) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            rows = list(
                await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
            )
        await engine.dispose()
        return rows

    return asyncio.run(run())
