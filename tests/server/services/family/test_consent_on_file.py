"""A telehealth visit's note is signed only with telehealth consent on file: charted by the
therapist, or signed by the family (stored with the exact text), not withdrawn before the visit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from doc_world import open_world  # tests/support
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import transaction
from server.models import Appointment, ChartConsent, Note, SignedConsent
from server.services.documentation.consent import telehealth_consent_for
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note
from server.services.errors import ValidationFailed
from server.services.family.access import FamilyIdentity, family_actor
from server.services.family.forms import CONSENTS, sign_consent, withdraw_consent

VISIT = datetime(2026, 10, 6, 15, 0, tzinfo=UTC)


async def load(session: AsyncSession, note_id: uuid.UUID) -> Note:
    note = await session.get(Note, note_id)
    assert note is not None
    return note


async def test_a_telehealth_note_needs_consent_on_file_and_a_family_signature_counts(
    database_url: str,
) -> None:
    async with open_world(database_url) as world:
        async with transaction(world.db) as session:
            for chart in await session.scalars(
                select(ChartConsent).where(ChartConsent.client_id == world.client.id)
            ):
                chart.revoked_at = VISIT - timedelta(days=30)
        appt = await world.visit(VISIT, mode="telehealth")
        async with transaction(world.db) as session:
            loaded = await session.get(Appointment, appt.id)
            assert loaded is not None
            note = await draft_note(session, world.therapist, loaded, world.actor)
            await update_note(
                session, world.therapist, note, NoteEdit(objective="Buttons."), world.actor
            )
            assert note.telehealth_consent is None
            note_id = note.id
        with pytest.raises(ValidationFailed) as refused:
            async with transaction(world.db) as session:
                await sign_note(session, world.therapist, await load(session, note_id), world.actor)
        assert "telehealth_consent" in refused.value.errors

        identity = FamilyIdentity(note_id, world.client.caregivers[0], world.client)
        actor = family_actor(identity)
        async with transaction(world.db) as session:
            text = CONSENTS["telehealth"]
            with pytest.raises(ValidationFailed):
                await sign_consent(session, identity, "telehealth", "1999.1", "Ada Okafor", actor)
            with pytest.raises(ValidationFailed):
                await sign_consent(session, identity, "telehealth", text.version, " ", actor)
            signed = await sign_consent(
                session, identity, "telehealth", text.version, "  Ada   Okafor ", actor,
                now=VISIT - timedelta(days=2),
            )  # fmt: skip
        assert (signed.text, signed.version, signed.signed_name) == (
            text.text, text.version, "Ada Okafor",
        )  # fmt: skip
        async with transaction(world.db) as session:
            on_file = await telehealth_consent_for(session, world.client.id, VISIT.date())
            assert on_file is not None
            assert (on_file.source, on_file.given_by) == ("family", "Ada Okafor")
            # Not on file for a visit before it was signed.
            earlier = VISIT.date() - timedelta(days=3)
            assert await telehealth_consent_for(session, world.client.id, earlier) is None
            signed_note = await sign_note(
                session, world.therapist, await load(session, note_id), world.actor
            )
        assert signed_note.status == "signed"
        # Withdrawn today: the visit, before, keeps its consent; a visit tomorrow has none.
        async with transaction(world.db) as session:
            assert await withdraw_consent(session, identity, "telehealth", actor) == 1
            row = await session.get(SignedConsent, signed.id)
            assert row is not None
            assert row.withdrawn_at is not None
            assert await telehealth_consent_for(session, world.client.id, VISIT.date())
            later = row.withdrawn_at.date() + timedelta(days=1)
            assert await telehealth_consent_for(session, world.client.id, later) is None
