"""A note drafted from what happened: the appointment, and for telehealth the session record.

The draft copies the session's facts (who was present and when, duration, annotations, goal
tallies, snapshots, recordings) into the note, so the signed note shows what it was based on
even if those records are later reviewed or annotated further.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Annotation,
    Appointment,
    Client,
    Goal,
    Note,
    User,
    VideoSession,
)
from server.services.audit import Actor, add_audit
from server.services.family.practice import practice_summary
from server.services.video.annotations import list_annotations
from server.services.video.observation import (
    TIMER_START,
    TIMER_STOP,
    GoalTally,
    ObservationSummary,
    observation_summary,
)
from server.services.video.recordings import PLAYABLE, list_recordings

from .common import NO_CLIENT, NotAuthor, NotFound, ValidationFailed
from .consent import telehealth_consent_for
from .plans import active_plan, goals_by_reference

DOCUMENTABLE = ("completed", "in_session", "checked_in")
INDEPENDENT = "independent"


def playback_url(video_id: object, seconds: float | None = None) -> str:
    url = f"/sessions/{video_id}/playback"
    return url if seconds is None else f"{url}?t={seconds:g}"


def _measure(goal: Goal | None, tally: GoalTally) -> dict[str, Any]:
    """One objective line per goal; the value is what the goal's chart plots.

    Trial tags (success/fail) count as trials when present; a goal tagged only with prompt
    levels counts each tag as a trial and the independent ones as successes. The value is the
    percentage for a percent-of-trials goal, the number of tags for a frequency goal, the time
    from "start" to "stop" tags for a duration goal; for the others the tally stays in the text
    and the therapist enters the measured value.
    """
    title = goal.title if goal else f"Goal {tally.goal_id}"
    prompts = dict(tally.tags)
    if tally.trials:
        hits, trials, word = tally.successes, tally.trials, "successful"
    else:
        hits, trials, word = prompts.get(INDEPENDENT, 0), sum(prompts.values()), INDEPENDENT
    pct = round(100 * hits / trials) if trials else None
    measure = goal.measure if goal else "percent_trials"
    value: float | None = pct if measure == "percent_trials" else None
    text = f"{title}: {hits} of {trials} trials {word}"
    text += f" ({pct}%)" if pct is not None else ""
    others = [f"{tag} {n}" for tag, n in tally.tags if not (word == INDEPENDENT and tag == word)]
    if measure == "frequency":
        value = tally.trials + sum(prompts.values())
        text = f"{title}: {value:g} times"
        others = [f"{tag} {n}" for tag, n in tally.tags] if len(tally.tags) > 1 else []
    elif measure == "duration" and tally.timed_ms:
        value = round(tally.timed_ms / 1000)
        text = f"{title}: {value:g} seconds timed"
        others = [f"{tag} {n}" for tag, n in tally.tags if tag not in (TIMER_START, TIMER_STOP)]
    if others:
        text += "; " + ", ".join(others)
    return {
        "goal_id": str(goal.id) if goal else tally.goal_id,
        "lineage_id": str(goal.lineage_id) if goal else None,
        "number": goal.number if goal else None,
        "label": goal.label if goal else tally.goal_id,
        "value": value,
        "unit": goal.unit if goal else "%",
        "successes": hits,
        "trials": trials,
        "tags": [list(t) for t in tally.tags],
        "text": text,
    }


def with_plan_goals(measures: list[dict[str, Any]], goals: list[Goal]) -> list[dict[str, Any]]:
    """One entry per goal of the plan (empty where the session gave no tally), so the note form
    offers every goal's measured value; tallies for goals outside the plan are kept too."""
    have = {m["goal_id"] for m in measures} | {m.get("lineage_id") for m in measures}
    extra = [
        {
            "goal_id": str(g.id),
            "lineage_id": str(g.lineage_id),
            "number": g.number,
            "label": g.label,
            "value": None,
            "unit": g.unit,
            "text": "",
        }
        for g in goals
        if str(g.id) not in have and str(g.lineage_id) not in have
    ]
    return sorted(
        [*measures, *extra], key=lambda m: (m["number"] is None, m["number"] or 0, m["label"])
    )


def _annotation_fact(a: Annotation, video_id: object, goals: dict[str, Goal]) -> dict[str, Any]:
    goal = goals.get(a.goal_id) if a.goal_id else None
    seconds = a.recording_ms / 1000 if a.recording_ms is not None else None
    return {
        "id": str(a.id),
        "kind": a.kind,
        "text": a.text,
        "tag": a.tag,
        "goal": goal.title if goal else a.goal_id,
        "session_ms": a.session_ms,
        "recording_id": a.recording_id,
        "recording_ms": a.recording_ms,
        "at": a.created_at.isoformat(),
        "playback": playback_url(video_id, seconds) if seconds is not None else None,
        "snapshot": f"/sessions/{video_id}/annotations/{a.id}/snapshot"
        if a.kind == "snapshot"
        else None,
    }


def _times(video: VideoSession, summary: ObservationSummary) -> tuple[datetime, datetime | None]:
    joins = [start for p in summary.attendance for start, _ in p.stretches]
    leaves = [end for p in summary.attendance for _, end in p.stretches if end is not None]
    start = video.live_at or (min(joins) if joins else video.planned_start)
    end = video.ended_at or (max(leaves) if leaves else None)
    return start, end


async def _session_facts(
    session: AsyncSession, video: VideoSession, goals: dict[str, Goal], actor: Actor
) -> tuple[dict[str, Any], ObservationSummary]:
    summary = await observation_summary(session, video, actor)
    annotations = await list_annotations(session, video, actor)
    recordings = await list_recordings(session, video, actor)
    start, end = _times(video, summary)
    facts: dict[str, Any] = {
        "video_session_id": str(video.id),
        "started_at": start.isoformat(),
        "ended_at": end.isoformat() if end else None,
        "duration_minutes": round((end - start).total_seconds() / 60) if end else None,
        "participants": [
            {
                "name": p.name,
                "role": p.role,
                "present_minutes": round(p.present_ms / 60000),
                "stretches": [
                    [a.isoformat(), b.isoformat() if b else None] for a, b in p.stretches
                ],
            }
            for p in summary.attendance
        ],
        "annotations": [_annotation_fact(a, video.id, goals) for a in annotations],
        "tag_counts": [list(t) for t in summary.tag_counts],
        "recordings": [
            {
                "id": view.recording.id,
                "recorded_ms": view.recording.recorded_ms,
                "files": [
                    {"id": str(f.id), "sha256": f.sha256, "duration_ms": f.duration_ms}
                    for f in view.files
                    if f.status in PLAYABLE
                ],
                "playback": playback_url(video.id, 0),
            }
            for view in recordings
        ],
        "snapshots": summary.snapshots,
        "coaching": {
            "cues": [list(c) for c in summary.coaching.cues],
            "followed": summary.coaching.followed,
            "line": summary.coaching.line,
        },
        "chat": [
            {"author": a.author_role, "text": a.text, "session_ms": a.session_ms}
            for a in annotations
            if a.kind == "chat"
        ],
    }
    return facts, summary


def _objective(facts: dict[str, Any], measures: list[dict[str, Any]]) -> str:
    lines = [m["text"] for m in measures]
    notes = [a for a in facts["annotations"] if a["kind"] == "note" and a["text"]]
    if notes:
        lines.append("Observations during the session:")
        lines.extend(f"- {a['text']}" for a in notes)
    if facts["snapshots"]:
        lines.append(f"{facts['snapshots']} snapshot(s) taken during the session.")
    if facts.get("coaching", {}).get("line"):
        lines.append(facts["coaching"]["line"])
    return "\n".join(lines)


def _present(facts: dict[str, Any]) -> str:
    return "; ".join(
        f"{p['name']} ({p['role']}, {p['present_minutes']} min)" for p in facts["participants"]
    )


async def _telehealth_consent(session: AsyncSession, appt: Appointment) -> bool | None:
    day = appt.starts_at.astimezone(ZoneInfo(appt.client.time_zone)).date()
    return True if await telehealth_consent_for(session, appt.client_id, day) else None


# An evaluation visit starts with the moderate-complexity code of its discipline (speech: sound
# production with language); the therapist picks the complexity the evaluation supports.
EVALUATION_CODES = {"ot": "97166", "pt": "97162", "slp": "92523"}
REEVALUATION_CODES = {"ot": "97168", "pt": "97164"}
SERVICE_DISCIPLINES = {"ot": "ot", "pt": "pt", "speech": "slp"}


def _evaluation_procedures(service_type: str, discipline: str | None) -> list[dict[str, Any]]:
    prefix, _, kind = service_type.partition("_")
    discipline = discipline or SERVICE_DISCIPLINES.get(prefix)
    codes = {"evaluation": EVALUATION_CODES, "reevaluation": REEVALUATION_CODES}.get(kind, {})
    code = codes.get(discipline or "")
    return [{"code": code, "minutes": None}] if code else []


async def draft_note(session: AsyncSession, user: User, appt: Appointment, actor: Actor) -> Note:
    """The visit's progress note: the existing one, or a new draft built from the record."""
    if appt.therapist_id != user.id:
        raise NotAuthor("Only the treating therapist documents this visit.")
    existing = await session.scalar(
        select(Note).where(Note.appointment_id == appt.id, Note.note_type == "progress_note")
    )
    if existing is not None:
        return existing
    if appt.status not in DOCUMENTABLE:
        raise ValidationFailed({"status": "Only a visit that took place gets a progress note."})
    plan = await active_plan(session, appt.client_id)
    note = Note(
        client_id=appt.client_id,
        author_id=user.id,
        appointment_id=appt.id,
        plan_id=plan.id if plan else None,
        note_type="progress_note",
        status="draft",
        service_date=appt.starts_at.astimezone(ZoneInfo(appt.client.time_zone)).date(),
        mode=appt.mode,
        time_in=appt.started_at or appt.starts_at,
        time_out=appt.ended_at or appt.ends_at,
        subjective="",
        objective="",
        assessment="",
        plan="",
        present="",
        measures=[],
        session_facts={},
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    note.procedures = _evaluation_procedures(appt.service_type, plan.discipline if plan else None)
    # What the family logged at home in the week up to the visit (their practice log).
    note.subjective = await practice_summary(session, appt.client_id, note.service_date) or ""
    if appt.mode == "telehealth":
        note.modality = "video"
        # Most families join from home; the therapist changes it when the child was elsewhere.
        note.client_at_home = True
        note.client_location_state = appt.client_state
        note.telehealth_consent = await _telehealth_consent(session, appt)
        video = await _video_of(session, appt)
        if video is not None:
            goals = await goals_by_reference(session, appt.client_id)
            facts, summary = await _session_facts(session, video, goals, actor)
            measures = with_plan_goals(
                [_measure(goals.get(t.goal_id), t) for t in summary.goals], []
            )
            note.video_session_id = video.id
            note.session_facts = facts
            note.measures = measures
            note.present = _present(facts)
            note.objective = _objective(facts, measures)
            note.time_in = datetime.fromisoformat(facts["started_at"])
            if facts["ended_at"]:
                note.time_out = datetime.fromisoformat(facts["ended_at"])
    if plan is not None:
        note.measures = with_plan_goals(note.measures, plan.goals)
    session.add(note)
    await session.flush()
    add_audit(
        session,
        actor,
        "note.draft",
        object_type="note",
        object_id=note.id,
        detail={
            "appointment_id": str(appt.id),
            "video_session_id": str(note.video_session_id) if note.video_session_id else None,
        },
    )
    return note


async def _video_of(session: AsyncSession, appt: Appointment) -> VideoSession | None:
    video: VideoSession | None = await session.scalar(
        select(VideoSession)
        .where(VideoSession.appointment_id == appt.id)
        .order_by(VideoSession.created_at.desc())
    )
    if video is None and appt.video_session_id:
        try:
            video = await session.get(VideoSession, uuid.UUID(appt.video_session_id))
        except ValueError:
            video = None
    return video


async def draft_progress_report(
    session: AsyncSession, user: User, client_id: uuid.UUID, actor: Actor
) -> Note:
    """A progress report reviewing every goal of the active plan with its latest measure."""
    plan = await active_plan(session, client_id)
    if plan is None:
        raise ValidationFailed({"plan": "Write a plan of care before a progress report."})
    if plan.therapist_id != user.id:
        raise NotAuthor("Only the treating therapist writes the progress report.")
    history = [
        n
        for n in await session.scalars(
            select(Note)
            .where(Note.client_id == client_id, Note.note_type == "progress_note")
            .order_by(Note.service_date, Note.created_at)
        )
    ]
    measures: list[dict[str, Any]] = []
    lines: list[str] = []
    for goal in plan.goals:
        latest = None
        for note in history:
            for m in note.measures:
                if m.get("lineage_id") == str(goal.lineage_id) and m.get("value") is not None:
                    latest = (note.service_date, m["value"])
        text = f"{goal.title}: baseline {goal.baseline:g}{goal.unit}, target {goal.target:g}"
        text += f"{goal.unit} by {goal.target_date:%b %-d, %Y}; "
        text += (
            f"latest {latest[1]:g}{goal.unit} on {latest[0]:%b %-d}" if latest else "no data yet"
        )
        lines.append(text)
        measures.append(
            {
                "goal_id": str(goal.id),
                "lineage_id": str(goal.lineage_id),
                "number": goal.number,
                "label": goal.label,
                "value": latest[1] if latest else None,
                "unit": goal.unit,
                "baseline": goal.baseline,
                "target": goal.target,
                "status": goal.status,
                "text": text,
            }
        )
    now = utcnow()
    client = await session.get(Client, client_id)
    if client is None:
        raise NotFound(NO_CLIENT)
    client_zone = ZoneInfo(client.time_zone)
    note = Note(
        client_id=client_id, author_id=user.id, appointment_id=None, plan_id=plan.id,
        note_type="progress_report", status="draft",
        service_date=now.astimezone(client_zone).date(), mode="in_person",
        subjective="", objective="\n".join(lines), assessment="",
        plan="", present="", measures=measures, session_facts={}, created_at=now,
        updated_at=now,
    )  # fmt: skip
    session.add(note)
    await session.flush()
    add_audit(
        session, actor, "note.draft", object_type="note", object_id=note.id,
        detail={"note_type": "progress_report", "plan_id": str(plan.id)},
    )  # fmt: skip
    return note
