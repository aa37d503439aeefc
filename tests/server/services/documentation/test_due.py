"""Progress-report and recertification due dates in constructed cases (both databases)."""

from __future__ import annotations

from datetime import date, timedelta

from doc_world import T0, DocWorld

from server.db import transaction
from server.models import Appointment, Client, PlanOfCare
from server.services.documentation.drafting import draft_progress_report
from server.services.documentation.due import (
    caseload_due,
    client_due,
    progress_report_due,
    recertification_due,
)
from server.services.documentation.notes import NoteEdit, sign_note, update_note

TODAY = date(2026, 11, 20)


async def report(world: DocWorld, today: date = TODAY) -> tuple[str, date | None, str]:
    async with world.db() as session:
        client = await session.get(Client, world.client.id)
        plan = await session.get(PlanOfCare, world.plan.id)
        assert client is not None
        assert plan is not None
        item = await progress_report_due(session, client, plan, today)
    return item.state, item.due_on, item.detail


async def test_the_tenth_treatment_visit_across_both_modes(world: DocWorld) -> None:
    # Nine completed visits alternating in person and telehealth, one week apart ...
    for week in range(9):
        mode = "telehealth" if week % 2 else "in_person"
        await world.visit(T0 + timedelta(days=7 * week), mode=mode)
    # ... plus things that do not count: a cancelled visit, a no-show, an evaluation.
    await world.visit(T0 + timedelta(days=1), status="cancelled")
    await world.visit(T0 + timedelta(days=2), status="no_show")
    await world.visit(T0 + timedelta(days=3), service_type="ot_reevaluation")
    state, due_on, detail = await report(world)
    assert state == "due_soon"
    assert due_on is None  # the tenth visit is not booked yet
    assert "1 visit(s) left" in detail
    # Booking the tenth (telehealth) gives the report its date.
    tenth = T0 + timedelta(days=7 * 9)
    booked = await world.visit(tenth, mode="telehealth", status="booked")
    state, due_on, _ = await report(world)
    assert (state, due_on) == ("due_soon", date(2026, 12, 7))
    # Once the tenth is done without a report, it is overdue.
    async with transaction(world.db) as session:
        row = await session.get(Appointment, booked.id)
        assert row is not None
        row.status = "completed"
    state, _, detail = await report(world)
    assert state == "overdue"
    assert detail.startswith("10 treatment visits")


async def test_a_signed_progress_report_restarts_the_count(world: DocWorld) -> None:
    for week in range(10):
        await world.visit(T0 + timedelta(days=7 * week))
    assert (await report(world))[0] == "overdue"
    async with transaction(world.db) as session:
        note = await draft_progress_report(session, world.therapist, world.client.id, world.actor)
        assert [m["number"] for m in note.measures] == [1, 2]
        assert "Goal 1, grasp: baseline 20%, target 80%" in note.objective
        await update_note(
            session, world.therapist, note, NoteEdit(assessment="Good progress."), world.actor
        )
        note.service_date = (T0 + timedelta(days=63)).date()
        await sign_note(session, world.therapist, note, world.actor)
    state, _, detail = await report(world)
    assert state == "upcoming"
    assert detail == "0 of 10 treatment visits done"
    await world.visit(T0 + timedelta(days=70))
    assert (await report(world))[2] == "1 of 10 treatment visits done"


async def test_recertification_ahead_of_time_and_overdue(world: DocWorld) -> None:
    async with world.db() as session:
        client = await session.get(Client, world.client.id)
        plan = await session.get(PlanOfCare, world.plan.id)
    assert client is not None
    assert plan is not None
    assert plan.cert_end == date(2026, 12, 30)
    far = recertification_due(client, plan, date(2026, 11, 1))
    soon = recertification_due(client, plan, date(2026, 12, 15))
    last_day = recertification_due(client, plan, date(2026, 12, 30))
    late = recertification_due(client, plan, date(2026, 12, 31))
    assert (far.state, soon.state, last_day.state, late.state) == (
        "upcoming",
        "due_soon",
        "due_soon",
        "overdue",
    )
    assert soon.detail == "certification ends in 15 day(s)"
    assert soon.due_on == date(2026, 12, 30)


async def test_the_dashboard_lists_only_what_needs_attention(world: DocWorld) -> None:
    async with world.db() as session:
        assert await caseload_due(session, world.therapist, date(2026, 11, 1)) == []
        items = await caseload_due(session, world.therapist, date(2026, 12, 20))
        client = await session.get(Client, world.client.id)
        assert client is not None
        both = await client_due(session, client, date(2026, 11, 1))
    assert [(i.kind, i.state) for i in items] == [("recertification", "due_soon")]
    assert [i.kind for i in both] == ["progress_report", "recertification"]
