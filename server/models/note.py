"""Clinical notes (progress notes, progress reports) and their addenda.

A signed note is a legal record: after signing, its content never changes. Three layers hold
that: the services refuse, the mapper events below refuse (any ORM path), and a database trigger
refuses (any SQL path; see the documentation migration). Corrections are addenda, append-only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow

# The only column a signed note may still change: the appointment link goes NULL when the
# schedule row is deleted (ON DELETE SET NULL); the note keeps its own visit date and times.
MUTABLE_AFTER_SIGNING = frozenset({"appointment_id"})
FIRST_FORMAT = "tandem-note-v1"
CURRENT_FORMAT = "tandem-note-v2"


class SignedNoteLocked(PermissionError):
    pass


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        UniqueConstraint("appointment_id", "note_type"),
        Index("ix_notes_client_date", "client_id", "service_date"),
        Index("ix_notes_author_status", "author_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True
    )
    video_session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="RESTRICT"), nullable=True
    )
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("plans_of_care.id", ondelete="RESTRICT"), nullable=True
    )
    note_type: Mapped[str] = mapped_column(String(20))  # progress_note | progress_report
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft | signed
    service_date: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(20))  # in_person | telehealth
    time_in: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    time_out: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    modality: Mapped[str | None] = mapped_column(String(12), nullable=True)  # video | audio_only
    client_location_state: Mapped[str | None] = mapped_column(String(2), nullable=True)
    present: Mapped[str] = mapped_column(Text, default="")
    telehealth_consent: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Telehealth: whether the client was at home (place of service 10) or elsewhere (02).
    client_at_home: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # What was done, for the charge: [{code, minutes}] (documentation/procedures.py).
    procedures: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    subjective: Mapped[str] = mapped_column(Text, default="")
    objective: Mapped[str] = mapped_column(Text, default="")
    assessment: Mapped[str] = mapped_column(Text, default="")
    plan: Mapped[str] = mapped_column(Text, default="")
    # Per-goal measures: [{goal_id, lineage_id, number, label, value, unit, successes, trials,
    # text}]. Inside the note so they are signed and locked with it.
    measures: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What the session record said when the draft was made (participants, annotations,
    # recording): kept so the signed note shows what it was drafted from.
    session_facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    late_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Which canonical serialization the hash covers (hashing.py). Notes signed before procedures
    # existed keep the first format; new notes get the current one.
    content_format: Mapped[str] = mapped_column(
        String(20), default=CURRENT_FORMAT, server_default=FIRST_FORMAT
    )

    @property
    def is_signed(self) -> bool:
        return self.status == "signed"


class NoteAddendum(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): corrections after signing."""

    __tablename__ = "note_addenda"
    __table_args__ = (Index("ix_note_addenda_note", "note_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    note_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("notes.id", ondelete="RESTRICT")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    reason: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))


def _was_signed(target: Note) -> bool:
    history = inspect(target).attrs.status.history
    before = history.deleted[0] if history.deleted else target.status
    return before == "signed"


@event.listens_for(Note, "before_update")
def _refuse_signed_update(_mapper: Mapper[Note], _connection: Any, target: Note) -> None:
    if not _was_signed(target):
        return
    state = inspect(target)
    changed = [
        attr.key
        for attr in state.attrs
        if attr.key not in MUTABLE_AFTER_SIGNING and attr.history.has_changes()
    ]
    if changed:
        raise SignedNoteLocked(f"note {target.id} is signed; refused change of {changed}")


@event.listens_for(Note, "before_delete")
def _refuse_signed_delete(_mapper: Mapper[Note], _connection: Any, target: Note) -> None:
    if _was_signed(target):
        raise SignedNoteLocked(f"note {target.id} is signed; it cannot be deleted")


@event.listens_for(NoteAddendum, "before_update")
@event.listens_for(NoteAddendum, "before_delete")
def _refuse_addendum_change(_mapper: Mapper[NoteAddendum], _c: Any, target: NoteAddendum) -> None:
    raise SignedNoteLocked(f"addendum {target.id} is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_note_writes(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE statements skip the per-object events above; notes are only ever
    # changed one object at a time, so any bulk write against them is refused outright.
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in (Note, NoteAddendum):
            raise SignedNoteLocked("bulk UPDATE/DELETE of notes is not allowed")
