"""Notes: drafts, autosaved edits, signing (author only), addenda. Every read and write audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import new_id, utcnow
from server.models import Appointment, Note, NoteAddendum, PlanOfCare, PracticeProfile, User
from server.models.practice_profile import DEFAULT_LATE_ENTRY_HOURS
from server.services.audit import Actor, add_audit
from server.services.errors import not_found_for, owned_id

from .common import NO_CLIENT, NotAuthor, NoteSigned, ValidationFailed, as_uuid
from .consent import telehealth_consent_for
from .hashing import addendum_hash, note_hash, verify
from .procedures import parse_procedures
from .times import parse_wall_time

TEXT_FIELDS = ("subjective", "objective", "assessment", "plan", "present")
MAX_TEXT = 20000
MODALITIES = ("video", "audio_only")
NOTE_TYPES = {"progress_note": "Progress note", "progress_report": "Progress report"}
SERVICE_DISCIPLINES = {"ot": "ot", "pt": "pt", "speech": "slp"}
NO_NOTE = "No such note."
ALREADY_SIGNED = "This note is already signed."


@dataclass
class NoteEdit:
    """Fields a therapist edits; None leaves a field as it is (autosave sends what changed)."""

    subjective: str | None = None
    objective: str | None = None
    assessment: str | None = None
    plan: str | None = None
    present: str | None = None
    modality: str | None = None
    client_location_state: str | None = None
    telehealth_consent: str | None = None  # "yes" | "no" | ""
    client_at_home: str | None = None  # "yes" | "no" | ""
    # Wall-clock time in the author's zone ("2026-11-01T01:10"), or ISO 8601 with an offset.
    time_in: str | None = None
    time_out: str | None = None
    # (code, minutes) rows of the procedures table; None leaves the procedures as they are.
    procedures: list[tuple[str, str]] | None = None
    # Measured value per goal, keyed by the goal id in the note's measures ("" clears it).
    measures: dict[str, str] | None = None


async def get_note_for(session: AsyncSession, user: User, note_id: object, actor: Actor) -> Note:
    nid = owned_id(note_id, NO_NOTE, actor, "note.read", "note")
    note = await session.get(Note, nid)
    if note is None or (note.author_id != user.id and not user.is_admin):
        raise not_found_for(NO_NOTE, actor, "note.read", "note", nid, exists=note is not None)
    add_audit(session, actor, "note.read", object_type="note", object_id=note.id)
    return note


async def list_addenda(session: AsyncSession, note: Note) -> list[NoteAddendum]:
    rows = await session.scalars(
        select(NoteAddendum)
        .where(NoteAddendum.note_id == note.id)
        .order_by(NoteAddendum.created_at, NoteAddendum.id)
    )
    return list(rows)


@dataclass(frozen=True)
class NoteAuthors:
    """Who wrote a note and its addenda, and the zone its times are shown and entered in."""

    zone: str
    names: dict[uuid.UUID, str]


async def note_authors(
    session: AsyncSession, note: Note, addenda: list[NoteAddendum]
) -> NoteAuthors:
    ids = {note.author_id, *(a.author_id for a in addenda)}
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(ids)))}
    author = users.get(note.author_id)
    return NoteAuthors(
        author.time_zone if author else "UTC", {uid: u.name for uid, u in users.items()}
    )


async def note_discipline(session: AsyncSession, note: Note) -> str | None:
    """OT, PT or speech: the plan of care's, else the visit's service type's."""
    if note.plan_id is not None:
        plan = await session.get(PlanOfCare, note.plan_id)
        if plan is not None:
            return plan.discipline
    if note.appointment_id is not None:
        appt = await session.get(Appointment, note.appointment_id)
        if appt is not None:
            return SERVICE_DISCIPLINES.get(appt.service_type.partition("_")[0])
    return None


def _time(
    raw: str,
    key: str,
    errors: dict[str, str],
    zone: str,
    current: datetime | None,
    not_before: datetime | None = None,
) -> datetime | None:
    if not raw.strip():
        return None
    try:
        return parse_wall_time(raw, zone, current=current, not_before=not_before)
    except ValueError as exc:
        errors[key] = str(exc)
        return None


def _measures(note: Note, values: dict[str, str], errors: dict[str, str]) -> list[Any]:
    updated = []
    for measure in note.measures:
        entry = dict(measure)  # new dicts in a new list: JSON columns only notice reassignment
        raw = values.get(entry["goal_id"])
        if raw is not None:
            try:
                entry["value"] = float(raw) if raw.strip() else None
            except ValueError:
                errors[f"measure-{entry['goal_id']}"] = "Enter a number."
        updated.append(entry)
    return updated


def _refuse_if_signed(note: Note, action: str, message: str) -> None:
    if note.is_signed:
        # Callers that keep a record of the refusal write it with record_audit: an audit row in
        # this unit of work would roll back with it.
        raise NoteSigned(message, reason=f"note {note.id} is signed; {action} refused")


async def update_note(
    session: AsyncSession, user: User, note: Note, edit: NoteEdit, actor: Actor
) -> list[str]:
    """Applies an edit to a draft; returns the fields that changed."""
    _refuse_if_signed(note, "edit", "This note is signed; add an addendum instead.")
    if note.author_id != user.id:
        raise NotAuthor("Only the author edits a note.")
    errors: dict[str, str] = {}
    changes: dict[str, object] = {}
    for name in TEXT_FIELDS:
        value = getattr(edit, name)
        if value is not None:
            if len(value) > MAX_TEXT:
                errors[name] = f"At most {MAX_TEXT} characters."
            changes[name] = value.replace("\r\n", "\n")
    if edit.modality is not None:
        if edit.modality not in (*MODALITIES, ""):
            errors["modality"] = "Choose video or audio only."
        changes["modality"] = edit.modality or None
    if edit.client_location_state is not None:
        state = edit.client_location_state.strip().upper()
        if state and (len(state) != 2 or not state.isalpha()):
            errors["client_location_state"] = "Use the two-letter state code."
        changes["client_location_state"] = state or None
    if edit.telehealth_consent is not None:
        changes["telehealth_consent"] = {"yes": True, "no": False}.get(edit.telehealth_consent)
    if edit.client_at_home is not None:
        changes["client_at_home"] = {"yes": True, "no": False}.get(edit.client_at_home)
    if edit.time_in is not None:
        changes["time_in"] = _time(edit.time_in, "time_in", errors, user.time_zone, note.time_in)
    if edit.time_out is not None:
        start = changes.get("time_in", note.time_in)
        changes["time_out"] = _time(
            edit.time_out, "time_out", errors, user.time_zone, note.time_out,
            start if isinstance(start, datetime) else None,
        )  # fmt: skip
    if edit.procedures is not None:
        try:
            changes["procedures"] = parse_procedures(edit.procedures)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if edit.measures:
        changes["measures"] = _measures(note, edit.measures, errors)
    time_in = changes.get("time_in", note.time_in)
    time_out = changes.get("time_out", note.time_out)
    if isinstance(time_in, datetime) and isinstance(time_out, datetime) and time_out < time_in:
        errors["time_out"] = "Time out is before time in."
    if errors:
        raise ValidationFailed(errors)
    changed = [name for name, value in changes.items() if getattr(note, name) != value]
    for name in changed:
        setattr(note, name, changes[name])
    if changed:
        note.updated_at = utcnow()
        add_audit(
            session,
            actor,
            "note.update",
            object_type="note",
            object_id=note.id,
            detail={"fields": changed},
        )
    return changed


async def late_entry_limit(session: AsyncSession, therapist_id: object) -> timedelta:
    """The practice's limit for signing (billing setup), 24 hours unless it says otherwise."""
    profile = await session.get(PracticeProfile, therapist_id)
    hours = profile.late_entry_hours if profile else DEFAULT_LATE_ENTRY_HOURS
    return timedelta(hours=hours)


def late_after(note: Note, zone: str, limit: timedelta) -> datetime:
    """When a note becomes a late entry: the limit, counted from the end of the date of service
    in the author's zone. Not from the note's time out: that defaults to when the visit was
    marked completed, which may itself be days after the visit."""
    day_end = datetime.combine(note.service_date + timedelta(days=1), time(), ZoneInfo(zone))
    return day_end + limit


async def sign_note(
    session: AsyncSession,
    user: User,
    note: Note,
    actor: Actor,
    *,
    edit: NoteEdit | None = None,
    now: datetime | None = None,
) -> Note:
    """Locks the note: stores the hash of its canonical content. Only the author signs.

    ``edit``: the last edits on screen, applied first, so what is signed is what was shown (a
    signed note refuses them as "already signed", the answer to the signing)."""
    if edit is not None:
        _refuse_if_signed(note, "edit", ALREADY_SIGNED)
        await update_note(session, user, note, edit, actor)
    _refuse_if_signed(note, "signing again", ALREADY_SIGNED)
    if note.author_id != user.id:
        raise NotAuthor("Only the author can sign this note.")
    errors: dict[str, str] = {}
    if not (note.subjective.strip() or note.objective.strip() or note.assessment.strip()):
        errors["objective"] = "A note needs its content before it is signed."
    if note.mode == "telehealth":
        if note.modality is None:
            errors["modality"] = "Say whether the visit was by video or audio only."
        if note.client_location_state is None:
            errors["client_location_state"] = "Record the state the client was in."
        if await telehealth_consent_for(session, note.client_id, note.service_date) is None:
            errors["telehealth_consent"] = (
                "No telehealth consent is on file for this visit's date: the family signs it on"
                " their family page, or record the consent in the chart."
            )
    if errors:
        raise ValidationFailed(errors)
    now = now or utcnow()
    limit = await late_entry_limit(session, note.author_id)
    note.late_entry = now > late_after(note, user.time_zone, limit)
    note.signed_at = now
    note.updated_at = now
    note.status = "signed"
    note.content_hash = note_hash(note)
    await session.flush()
    add_audit(
        session,
        actor,
        "note.sign",
        object_type="note",
        object_id=note.id,
        detail={"content_hash": note.content_hash, "late_entry": note.late_entry},
    )
    return note


async def add_addendum(
    session: AsyncSession, user: User, note: Note, reason: str, text: str, actor: Actor
) -> NoteAddendum:
    if not note.is_signed:
        raise ValidationFailed({"addendum": "Edit the draft itself; addenda are for signed notes."})
    if note.author_id != user.id and not user.is_admin:
        raise NotAuthor("Only the author or an administrator adds an addendum.")
    errors: dict[str, str] = {}
    reason, text = " ".join(reason.split())[:300], text.strip()
    if not reason:
        errors["reason"] = "Say why the addendum is added (correction, late information, ...)."
    if not text:
        errors["text"] = "Write the addendum."
    elif len(text) > MAX_TEXT:
        errors["text"] = f"At most {MAX_TEXT} characters."
    if errors:
        raise ValidationFailed(errors)
    # The id and time are set before hashing: the hash covers them.
    row = NoteAddendum(
        id=new_id(), note_id=note.id, author_id=user.id, reason=reason, text=text,
        created_at=utcnow(),
    )  # fmt: skip
    row.content_hash = addendum_hash(note, row)
    session.add(row)
    await session.flush()
    add_audit(
        session,
        actor,
        "note.addendum",
        object_type="note",
        object_id=note.id,
        detail={"addendum_id": str(row.id), "reason": reason, "content_hash": row.content_hash},
    )
    return row


def note_verifies(note: Note, addenda: list[NoteAddendum]) -> bool:
    return verify(note, addenda)


async def unsigned_notes(session: AsyncSession, user: User) -> list[Note]:
    rows = await session.scalars(
        select(Note)
        .where(Note.author_id == user.id, Note.status == "draft")
        .order_by(Note.service_date, Note.created_at)
    )
    return list(rows)


async def client_notes(session: AsyncSession, client_id: object) -> list[Note]:
    rows = await session.scalars(
        select(Note)
        .where(Note.client_id == as_uuid(client_id, NO_CLIENT))
        .order_by(Note.service_date.desc(), Note.created_at.desc())
    )
    return list(rows)
