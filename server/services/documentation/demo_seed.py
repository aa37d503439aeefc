"""Synthetic documentation for `tandem demo`: plans of care with goals for the demo clients, and
one completed telehealth session (presence, annotations) whose progress note is a draft.

Idempotent across runs. The schedule seed rebuilds appointments every run, so the demo visit is
re-created here and the existing session and note are linked to it again.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, Client, Note, User, VideoSession, VideoSessionState
from server.services.audit import Actor
from server.services.video.annotations import save_annotation
from server.services.video.sessions import record_presence, set_state, start_session
from signaling.ports import AnnotationDraft

from .drafting import draft_note
from .plans import GoalInput, PlanInput, active_plan, create_plan

DEMO_TITLE = "Demo: completed telehealth visit (Maya)"
# (first name, discipline, goals as (term, label, description, measure, baseline, target))
PLANS = {
    "Maya": ("ot", [
        ("long", "grasp", "Uses a tripod grasp on a crayon during coloring", "percent_trials",
         "20", "80"),
        ("short", "buttons", "Buttons three 1-inch buttons on a practice board", "duration",
         "120", "45"),
    ]),
    "Leo": ("ot", [
        ("long", "new foods", "Touches then tastes a new food at snack", "frequency", "0", "4"),
    ]),
    "Priya": ("slp", [
        ("long", "/r/ words", "Produces /r/ in initial position of words", "percent_trials",
         "30", "80"),
        ("short", "/s/ clusters", "Produces /s/ clusters in short phrases", "percent_trials",
         "25", "70"),
    ]),
    "Sam": ("pt", [
        ("long", "heel strike", "Walks 20 feet with heel strike", "assistance", "2", "5"),
    ]),
}  # fmt: skip


async def _plans(session: AsyncSession, therapist: User, clients: dict[str, Client],
                 today: date, actor: Actor) -> None:  # fmt: skip
    for name, (discipline, goals) in PLANS.items():
        client = clients.get(name)
        if client is None or await active_plan(session, client.id) is not None:
            continue
        # Maya's certification ends soon, so the recertification flag shows on the dashboard.
        ends = today + timedelta(days=14 if name == "Maya" else 75)
        data = PlanInput(
            discipline=discipline, assessment="Synthetic demo evaluation.",
            visits_per_week="1", visit_minutes="60",
            cert_start=(today - timedelta(days=45)).isoformat(), cert_end=ends.isoformat(),
            goals=[GoalInput(term, label, text, measure, base, target, ends.isoformat())
                   for term, label, text, measure, base, target in goals],
        )  # fmt: skip
        await create_plan(session, therapist, client, data, actor)


async def _visit(session: AsyncSession, therapist: User, maya: Client) -> Appointment:
    zone = ZoneInfo(therapist.time_zone)
    day = utcnow().astimezone(zone).date() - timedelta(days=1)
    # Evening, outside the seeded blocks: it never collides with the demo schedule.
    start = datetime.combine(day, time(17, 30), zone)
    appt = Appointment(
        therapist_id=therapist.id, client_id=maya.id, starts_at=start,
        ends_at=start + timedelta(minutes=45), mode="telehealth", client_state=maya.home_state,
        service_type="ot_treatment", status="completed", overridden=[],
        override_reason="Demo: a visit that already took place.", started_at=start,
        ended_at=start + timedelta(minutes=45),
    )  # fmt: skip
    session.add(appt)
    await session.flush()
    return appt


async def _held_session(
    session: AsyncSession, therapist: User, maya: Client, appt: Appointment, actor: Actor
) -> VideoSession:
    start = appt.starts_at
    video = await start_session(
        session, therapist, actor, title=DEMO_TITLE, client=maya, planned_start=start,
        planned_end=appt.ends_at,
    )  # fmt: skip
    sid = str(video.id)
    for pid, role, name, joined, left in (
        ("t_demo", "therapist", therapist.name, 0, 44),
        ("p_demo", "parent", "Ada Okafor", 1, 44),
    ):
        for at, joining in ((joined, True), (left, False)):
            await record_presence(
                session, sid, pid, role=role, name=name, joined=joining,
                at=start + timedelta(minutes=at),
            )  # fmt: skip
    plan = await active_plan(session, maya.id)
    grasp = str(plan.goals[0].id) if plan and plan.goals else None
    marks = [("tag", "independent")] * 7 + [("tag", "verbal cue")] * 3
    marks.append(("note", "Coloured a dinosaur; switched to a tripod grasp after a model."))
    for i, (kind, value) in enumerate(marks):
        await save_annotation(
            session, sid,
            AnnotationDraft(
                "t_demo", "therapist", str(therapist.id), None, kind,  # type: ignore[arg-type]
                session_ms=120_000 + i * 150_000, recording_ms=None, recording_id=None,
                at=start + timedelta(seconds=120 + i * 150),
                tag=value if kind == "tag" else None, text=value if kind == "note" else None,
                goal_id=grasp if kind == "tag" else None, client_ref=f"demo-{i}",
            ),
            actor,
        )  # fmt: skip
    await set_state(session, sid, VideoSessionState.ended)
    video.live_at, video.ended_at = start, start + timedelta(minutes=44)
    return video


async def seed_documentation_demo(
    session: AsyncSession, therapist: User, actor: Actor, *, base_url: str
) -> list[str]:
    clients = {
        c.first_name: c
        for c in await session.scalars(select(Client).where(Client.therapist_id == therapist.id))
    }
    today = utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()
    await _plans(session, therapist, clients, today, actor)
    maya = clients.get("Maya")
    if maya is None:
        return []
    appt = await _visit(session, therapist, maya)
    video = await session.scalar(
        select(VideoSession).where(
            VideoSession.therapist_id == therapist.id, VideoSession.title == DEMO_TITLE
        )
    )
    if video is None:
        video = await _held_session(session, therapist, maya, appt, actor)
    video.appointment_id = appt.id
    note = await session.scalar(
        select(Note).where(Note.video_session_id == video.id, Note.note_type == "progress_note")
    )
    if note is None:
        note = await draft_note(session, therapist, appt, actor)
    else:
        note.appointment_id = appt.id  # the schedule seed deleted the previous visit row
    await session.flush()
    state = "signed" if note.is_signed else "draft, ready to edit and sign"
    return [f"Documentation: a telehealth visit note ({state}): {base_url}/notes/{note.id}"]
