"""Notes: drafts, autosaved edits, signing (author only), addenda. Every read and write audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import new_id, utcnow
from server.models import Note, NoteAddendum, User
from server.services.audit import Actor, add_audit
from server.services.errors import not_found_for, owned_id

from .common import NO_CLIENT, NotAuthor, NoteSigned, ValidationFailed, as_uuid
from .hashing import addendum_hash, note_hash, verify

LATE_AFTER = timedelta(hours=24)
TEXT_FIELDS = ("subjective", "objective", "assessment", "plan", "present")
MAX_TEXT = 20000
MODALITIES = ("video", "audio_only")
NOTE_TYPES = {"progress_note": "Progress note", "progress_report": "Progress report"}
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
    time_in: str | None = None  # ISO 8601 with offset
    time_out: str | None = None
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


def _time(raw: str, key: str, errors: dict[str, str]) -> datetime | None:
    if not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        errors[key] = "Enter a date and time."
        return None
    if value.tzinfo is None:
        errors[key] = "The time needs its UTC offset."
        return None
    return value


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
    for name in ("time_in", "time_out"):
        raw = getattr(edit, name)
        if raw is not None:
            changes[name] = _time(raw, name, errors)
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


def visit_end(note: Note) -> datetime | None:
    return note.time_out or note.time_in


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
    if errors:
        raise ValidationFailed(errors)
    now = now or utcnow()
    end = visit_end(note)
    note.late_entry = end is not None and now - end > LATE_AFTER
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
