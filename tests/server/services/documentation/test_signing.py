"""A signed note cannot change by any route: services, ORM, bulk statements, raw SQL (both DBs)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from doc_world import T0, DocWorld
from schema_drift import drift
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import transaction
from server.models import Appointment, AuditEntry, Note, SignedNoteLocked
from server.services.documentation.common import NotAuthor, ValidationFailed
from server.services.documentation.drafting import draft_note
from server.services.documentation.hashing import note_hash
from server.services.documentation.notes import (
    NoteEdit,
    add_addendum,
    get_note_for,
    list_addenda,
    note_verifies,
    sign_note,
    unsigned_notes,
    update_note,
)

# What the database says when a trigger refuses (aiosqlite and asyncpg wrap it differently).
REFUSED = (IntegrityError, DBAPIError)


async def draft_for(session: AsyncSession, world: DocWorld, appt_id: uuid.UUID) -> Note:
    appt = await session.get(Appointment, appt_id)
    assert appt is not None
    return await draft_note(session, world.therapist, appt, world.actor)


async def signed_note(world: DocWorld) -> Note:
    appt = await world.visit(T0)
    async with transaction(world.db) as session:
        note = await draft_for(session, world, appt.id)
        await update_note(
            session, world.therapist, note,
            NoteEdit(subjective="Mother reports better pencil use.", objective="Goal 1: 6/10.",
                     assessment="Progressing.", plan="Continue 2x/week."),
            world.actor,
        )  # fmt: skip
        await sign_note(session, world.therapist, note, world.actor, now=T0 + timedelta(hours=2))
    return note


async def test_draft_edit_sign_and_the_hash_verifies(world: DocWorld) -> None:
    note = await signed_note(world)
    async with transaction(world.db) as session:
        stored = await get_note_for(session, world.therapist, note.id, world.actor)
        assert stored.status == "signed"
        assert stored.content_hash == note_hash(stored)
        assert note_verifies(stored, [])
        assert stored.late_entry is False
        assert stored.subjective == "Mother reports better pencil use."
        assert stored not in await unsigned_notes(session, world.therapist)
    async with world.db() as session:
        copy = await session.get(Note, note.id)
        assert copy is not None
        # Tampering with a loaded copy (never flushed) breaks verification.
        copy.assessment = "Regressing."
        assert not note_verifies(copy, [])
        await session.rollback()
    async with world.db() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(note.id))
            )
        )
    assert {"note.draft", "note.update", "note.sign", "note.read"} <= set(actions)


async def test_services_refuse_to_change_a_signed_note(world: DocWorld) -> None:
    note = await signed_note(world)
    async with transaction(world.db) as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        with pytest.raises(SignedNoteLocked):
            await update_note(session, world.therapist, stored, NoteEdit(plan="x"), world.actor)
        with pytest.raises(SignedNoteLocked):
            await sign_note(session, world.therapist, stored, world.actor)


async def test_the_orm_refuses_object_and_bulk_changes(world: DocWorld) -> None:
    note = await signed_note(world)
    async with world.db() as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        stored.objective = "rewritten"
        with pytest.raises(SignedNoteLocked):
            await session.flush()
        await session.rollback()
    async with world.db() as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        await session.delete(stored)
        with pytest.raises(SignedNoteLocked):
            await session.flush()
        await session.rollback()
    async with world.db() as session:
        with pytest.raises(SignedNoteLocked):
            await session.execute(update(Note).where(Note.id == note.id).values(plan="x"))
        with pytest.raises(SignedNoteLocked):
            await session.execute(delete(Note).where(Note.id == note.id))


async def test_the_database_trigger_refuses_raw_sql(world: DocWorld) -> None:
    note = await signed_note(world)
    for sql in (
        "UPDATE notes SET objective = 'rewritten' WHERE id = :id",
        "UPDATE notes SET status = 'draft', content_hash = NULL WHERE id = :id",
        "UPDATE notes SET measures = '[{\"value\": 100}]' WHERE id = :id",
        "DELETE FROM notes WHERE id = :id",
    ):
        async with world.db() as session:
            with pytest.raises(REFUSED, match="signed note"):
                await session.execute(text(sql), {"id": str(note.id)})
            await session.rollback()
    async with world.db() as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        assert stored.objective == "Goal 1: 6/10."
        assert note_verifies(stored, [])


async def test_a_draft_is_still_editable_by_sql(world: DocWorld) -> None:
    """The trigger locks signed notes only (so this test fails if it locked everything)."""
    appt = await world.visit(T0)
    async with transaction(world.db) as session:
        note = await draft_for(session, world, appt.id)
    async with transaction(world.db) as session:
        await session.execute(
            text("UPDATE notes SET plan = 'edited' WHERE id = :id"), {"id": str(note.id)}
        )
    async with world.db() as session:
        edited = await session.get(Note, note.id)
        assert edited is not None
        assert edited.plan == "edited"


async def test_deleting_the_visit_keeps_the_signed_note(world: DocWorld) -> None:
    note = await signed_note(world)
    async with transaction(world.db) as session:
        await session.execute(
            text("DELETE FROM appointments WHERE id = :id"), {"id": str(note.appointment_id)}
        )
    async with world.db() as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        assert stored.appointment_id is None
        assert note_verifies(stored, [])


async def test_addenda_are_stored_in_order_append_only_and_hashed(world: DocWorld) -> None:
    note = await signed_note(world)
    async with transaction(world.db) as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        first = await add_addendum(
            session, world.therapist, stored, "Correction", "Goal 1 was 7/10, not 6/10.",
            world.actor,
        )  # fmt: skip
        await add_addendum(
            session, world.therapist, stored, "Late information", "Parent called.", world.actor
        )
        with pytest.raises(ValidationFailed):
            await add_addendum(session, world.therapist, stored, "", "no reason", world.actor)
    async with world.db() as session:
        stored = await session.get(Note, note.id)
        assert stored is not None
        addenda = await list_addenda(session, stored)
        assert [a.reason for a in addenda] == ["Correction", "Late information"]
        assert addenda[0].author_id == world.therapist.id
        assert note_verifies(stored, addenda)
        assert stored.objective == "Goal 1: 6/10."  # the original never changes
    async with world.db() as session:
        with pytest.raises(REFUSED, match="append-only"):
            await session.execute(
                text("UPDATE note_addenda SET text = 'x' WHERE id = :id"), {"id": str(first.id)}
            )
        await session.rollback()


async def test_only_the_author_signs_and_late_entries_are_marked(world: DocWorld) -> None:
    other = await world.other_user()
    appt = await world.visit(T0)
    async with transaction(world.db) as session:
        note = await draft_for(session, world, appt.id)
        note.subjective = "Seen for treatment."
        with pytest.raises(NotAuthor):
            await sign_note(session, other, note, world.actor)
        # T0 is 10:00 in Chicago: the date of service ends at midnight, and 24 hours after it
        # (01:00 two days on) the note is late.
        signed = await sign_note(
            session, world.therapist, note, world.actor, now=T0 + timedelta(hours=39)
        )
    assert signed.late_entry is True


async def test_an_empty_draft_cannot_be_signed(world: DocWorld) -> None:
    appt = await world.visit(T0)
    async with transaction(world.db) as session:
        note = await draft_for(session, world, appt.id)
        with pytest.raises(ValidationFailed) as refused:
            await sign_note(session, world.therapist, note, world.actor)
        assert "objective" in refused.value.errors
        assert note.status == "draft"


DOC_TABLES = {
    "diagnoses", "referrals", "chart_consents", "plans_of_care", "goals", "notes", "note_addenda",
}  # fmt: skip


async def test_the_documentation_tables_match_the_models(settings: Settings) -> None:
    """The migration and the models agree on both backends (what `alembic check` would say)."""
    assert await drift(settings.database_url, DOC_TABLES) == []
