"""Documentation through the app: chart, plan form, note editing, signing, addenda, export."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from doc_world import DocWorld, HeldSession, build_held_world
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.models import AuditEntry

HTML = {"accept": "text/html"}


def build(settings: Settings) -> tuple[DocWorld, HeldSession]:
    return build_held_world(settings.database_url)


def audit_outcomes(settings: Settings, object_id: str, action: str) -> list[str]:
    async def run() -> list[str]:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.scalars(
                    select(AuditEntry.outcome).where(
                        AuditEntry.object_id == object_id, AuditEntry.action == action
                    )
                )
                return list(rows)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def signed_in(client: TestClient, helpers: Any, settings: Settings) -> tuple[DocWorld, HeldSession]:
    world, held = build(settings)
    helpers.login(client, world.therapist.email, "correct-horse-1")
    return world, held


def test_note_from_a_session_edit_sign_and_addendum(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, held = signed_in(client, helpers, settings)
    chart = client.get(f"/clients/{world.client.id}", headers=HTML)
    assert chart.status_code == 200
    assert "Plan of care" in chart.text
    assert "Write note" in chart.text
    made = client.post(
        f"/appointments/{held.appointment.id}/note",
        data=helpers.form(client, f"/clients/{world.client.id}"),
    )
    assert made.status_code == 303
    note_url = made.headers["location"]
    note_id = note_url.rsplit("/", 1)[1]
    page = client.get(note_url, headers=HTML)
    assert "Goal 1, grasp: 7 of 10 trials independent (70%)" in page.text
    assert "Ada Okafor" in page.text
    assert f"/sessions/{held.video_id}/playback?t=0" in page.text
    assert 'data-autosave="/api/v1/notes/' in page.text
    assert 'src="/static/js/note_autosave.js"' in page.text
    # The dashboard lists it as a note to sign.
    home = client.get("/", headers=HTML)
    assert "Notes to sign" in home.text
    assert note_url in home.text

    csrf = {"x-csrf-token": helpers.form(client, note_url)["csrf_token"]}
    saved = client.post(
        f"/api/v1/notes/{note_id}", json={"assessment": "Emerging tripod grasp."}, headers=csrf
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["saved"] == ["assessment"]
    bad = client.post(f"/api/v1/notes/{note_id}", json={"modality": "fax"}, headers=csrf)
    assert bad.status_code == 422
    signed = client.post(
        f"{note_url}/sign", data=helpers.form(client, note_url, plan="Continue 2x/week.")
    )
    assert signed.status_code == 303
    shown = client.get(note_url, headers=HTML)
    assert 'id="hash-verified"' in shown.text
    assert "Emerging tripod grasp." in shown.text
    assert "Continue 2x/week." in shown.text
    assert "data-autosave" not in shown.text
    body = client.get(f"/api/v1/notes/{note_id}").json()
    assert (body["status"], body["verified"]) == ("signed", True)

    # Every edit route now refuses, and the refusal is audited.
    again = client.post(f"/api/v1/notes/{note_id}", json={"plan": "changed"}, headers=csrf)
    assert again.status_code == 409
    form_edit = client.post(note_url, data=helpers.form(client, note_url, plan="changed"))
    assert form_edit.status_code == 409
    resign = client.post(f"{note_url}/sign", data=helpers.form(client, note_url))
    assert resign.status_code == 409
    assert audit_outcomes(settings, note_id, "note.update")[-2:] == ["refused", "refused"]
    assert client.get(f"/api/v1/notes/{note_id}").json()["plan"] == "Continue 2x/week."

    added = client.post(
        f"{note_url}/addenda",
        data=helpers.form(client, note_url, reason="Correction", text="Parent joined late."),
    )
    assert added.status_code == 303
    final = client.get(note_url, headers=HTML)
    assert "Parent joined late." in final.text
    assert "Correction" in final.text
    assert client.get(f"/api/v1/notes/{note_id}").json()["verified"] is True
    assert note_url not in client.get("/", headers=HTML).text
    # The signed measures are plotted on the goal charts, between baseline and target lines.
    plan = client.get(f"/plans/{world.plan.id}", headers=HTML).text
    assert plan.count('class="point"') == 1
    assert 'class="baseline"' in plan
    assert 'class="target"' in plan
    assert "70 (draft)" not in plan


def test_another_therapist_cannot_read_or_write_the_note(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, held = signed_in(client, helpers, settings)
    made = client.post(
        f"/appointments/{held.appointment.id}/note",
        data=helpers.form(client, f"/clients/{world.client.id}"),
    )
    note_id = made.headers["location"].rsplit("/", 1)[1]
    client.cookies.clear()
    email, password = helpers.make_user()
    helpers.login(client, email, password)
    assert client.get(f"/notes/{note_id}", headers=HTML).status_code == 404
    csrf = {"x-csrf-token": helpers.form(client, "/")["csrf_token"]}
    assert (
        client.post(f"/api/v1/notes/{note_id}", json={"plan": "x"}, headers=csrf).status_code == 404
    )
    assert client.get(f"/api/v1/clients/{world.client.id}/fhir").status_code == 404


def test_plan_form_revision_chart_facts_and_export(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world, _ = signed_in(client, helpers, settings)
    cid = world.client.id
    form = client.get(f"/clients/{cid}/plans/new", headers=HTML)
    assert "Re-evaluation" in form.text
    lineage = re.search(r'name="goal-0-lineage_id" value="([0-9a-f-]{36})"', form.text)
    assert lineage
    fields = {
        "discipline": "ot", "visits_per_week": "2", "visit_minutes": "45",
        "cert_start": "2026-12-28", "cert_end": "2027-03-28", "reason": "Recertification",
        "goal-0-lineage_id": lineage.group(1), "goal-0-label": "grasp", "goal-0-term": "long",
        "goal-0-description": "Tripod grasp", "goal-0-measure": "percent_trials",
        "goal-0-baseline": "70", "goal-0-target": "90", "goal-0-target_date": "2027-03-01",
    }  # fmt: skip
    bad = client.post(
        f"/clients/{cid}/plans",
        data=helpers.form(client, f"/clients/{cid}/plans/new", **{**fields, "goal-0-target": "x"}),
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "Enter a number." in bad.text
    created = client.post(
        f"/clients/{cid}/plans", data=helpers.form(client, f"/clients/{cid}/plans/new", **fields)
    )
    assert created.status_code == 303
    plan = client.get(created.headers["location"], headers=HTML)
    assert "Version 2" in plan.text
    assert "Version 1" in plan.text
    assert "2026-12-28 to 2027-03-28" in plan.text
    assert plan.text.count('class="goal-chart"') == 1
    old = client.get(f"/plans/{world.plan.id}", headers=HTML)
    assert "(superseded)" in old.text
    assert old.text.count('class="goal-chart"') == 2  # the old version kept both goals

    for fact, data in (
        ("diagnoses", {"code": "F82", "description": "Developmental coordination disorder"}),
        ("referrals", {"source": "Pediatrician", "provider": "Dr. Example"}),
        ("consents", {"kind": "telehealth", "given_by": "Ada Okafor", "given_on": "2026-09-01"}),
    ):
        done = client.post(
            f"/clients/{cid}/chart/{fact}", data=helpers.form(client, f"/clients/{cid}", **data)
        )
        assert done.status_code == 303, done.text
    bad_code = client.post(
        f"/clients/{cid}/chart/diagnoses",
        data=helpers.form(client, f"/clients/{cid}", code="123", description="x"),
    )
    assert bad_code.status_code == 422
    page = client.get(f"/clients/{cid}", headers=HTML).text
    assert "F82" in page
    assert "Pediatrician" in page
    assert "Telehealth: Ada Okafor" in page
    assert "Recording: Ada Okafor agreed" in page  # from the session's recording consent
    exported = client.get(f"/api/v1/clients/{cid}/fhir")
    assert exported.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(exported.json())
    kinds = {e.resource.get_resource_type() for e in bundle.entry or [] if e.resource}
    assert {"Condition", "Consent", "CarePlan", "Goal"} <= kinds
