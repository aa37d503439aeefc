"""Another therapist asks for your records: every read and change is refused with the same answer
as for a record that does not exist, and every refusal is in the audit log (aggregated)."""

from __future__ import annotations

import asyncio
from typing import Any

from doc_world import DocWorld, HeldSession, build_held_world
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.models import AuditEntry
from server.services.audit import AuditLog

HTML = {"accept": "text/html"}


def build(settings: Settings) -> tuple[DocWorld, HeldSession]:
    return build_held_world(settings.database_url)


def refusals_by(settings: Settings, actor_label: str) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.scalars(
                    select(AuditEntry).where(
                        AuditEntry.actor_label == actor_label, AuditEntry.outcome == "refused"
                    )
                )
                return list(rows)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_every_attempt_on_another_therapists_records_is_refused_and_audited(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, held = build(settings)
    helpers.login(client, world.therapist.email, "correct-horse-1")
    cid, pid, aid, vid = world.client.id, world.plan.id, held.appointment.id, held.video_id
    made = client.post(f"/appointments/{aid}/note", data=helpers.form(client, f"/clients/{cid}"))
    nid = made.headers["location"].rsplit("/", 1)[1]
    client.cookies.clear()
    intruder, password = helpers.make_user()
    helpers.login(client, intruder, password)
    csrf = helpers.form(client, "/")["csrf_token"]
    form = {"csrf_token": csrf}
    api = {"x-csrf-token": csrf}
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/clients/{cid}", {"headers": HTML}),
        ("GET", f"/clients/{cid}/edit", {"headers": HTML}),
        ("POST", f"/clients/{cid}/edit", {"data": {**form, "first_name": "X"}}),
        ("GET", f"/api/v1/clients/{cid}", {}),
        ("PUT", f"/api/v1/clients/{cid}", {"json": {"first_name": "X"}, "headers": api}),
        ("GET", f"/api/v1/clients/{cid}/fhir", {}),
        ("POST", f"/clients/{cid}/progress-report", {"data": form}),
        ("POST", f"/clients/{cid}/chart/height", {"data": {**form, "value": "100"}}),
        ("POST", f"/clients/{cid}/plans", {"data": form}),
        ("GET", f"/clients/{cid}/plans/new", {"headers": HTML}),
        ("GET", f"/plans/{pid}", {"headers": HTML}),
        ("GET", f"/notes/{nid}", {"headers": HTML}),
        ("GET", f"/api/v1/notes/{nid}", {}),
        ("POST", f"/notes/{nid}", {"data": {**form, "plan": "x"}}),
        ("POST", f"/api/v1/notes/{nid}", {"json": {"plan": "x"}, "headers": api}),
        ("POST", f"/notes/{nid}/sign", {"data": form}),
        ("POST", f"/notes/{nid}/addenda", {"data": {**form, "text": "x", "reason": "y"}}),
        ("GET", f"/schedule/appointments/{aid}", {"headers": HTML}),
        ("GET", f"/api/v1/appointments/{aid}", {}),
        ("POST", f"/schedule/appointments/{aid}/status", {"data": {**form, "status": "no_show"}}),
        ("POST", f"/appointments/{aid}/note", {"data": form}),
        ("GET", f"/sessions/{vid}", {"headers": HTML}),
        ("GET", f"/sessions/{vid}/playback", {"headers": HTML}),
        ("POST", f"/sessions/{vid}/end", {"data": form}),
    ]
    for method, path, kwargs in attempts:
        response = client.request(method, path, **kwargs)
        assert response.status_code in (403, 404), (method, path, response.status_code)
    rows = refusals_by(settings, intruder)
    refused_objects = {(r.object_type, r.object_id) for r in rows}
    for kind, object_id in (
        ("client", cid),
        ("plan_of_care", pid),
        ("note", nid),
        ("appointment", aid),
        ("video_session", vid),
    ):
        assert (kind, str(object_id)) in refused_objects, (kind, refused_objects)
    assert {r.detail.get("reason") for r in rows} == {"not_owner"}
    # Every attempt left a trace: one row per operation (none was identical to another).
    operations = {r.detail["request"] for r in rows}
    assert len(operations) == len(attempts), sorted(operations)


def test_repeated_identical_refusals_become_one_row_and_a_summary(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, _ = build(settings)
    intruder, password = helpers.make_user()
    helpers.login(client, intruder, password)
    for _ in range(30):
        assert client.get(f"/api/v1/clients/{world.client.id}").status_code == 404
    assert len(refusals_by(settings, intruder)) == 1
    assert isinstance(client.app, Starlette)  # the app that build_app made (tests/server)
    audit: AuditLog = client.app.state.tandem.audit
    assert client.portal is not None  # inside the fixture's `with TestClient(...)`
    client.portal.call(lambda: audit.flush(everything=True))
    rows = refusals_by(settings, intruder)
    assert len(rows) == 2
    summary = next(r for r in rows if "repeated" in r.detail)
    assert summary.detail["repeated"] == 29
    assert summary.detail["reason"] == "not_owner"
