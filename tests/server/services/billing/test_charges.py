"""Charges from signed notes: units, modifiers and place of service; confirming locks a charge
by every route (services, ORM, bulk statements, raw SQL); corrections reverse and replace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from billing_world import BillingWorld, make_billing_world
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import AuditEntry, Charge, ChargeLine, ChargeLocked
from server.services.billing.charges import (
    LineEdit,
    confirm_charge,
    get_charge_for,
    standing_charges,
    update_lines,
    year_to_date_cents,
)
from server.services.billing.common import ChargeConfirmed, NotYours
from server.services.billing.corrections import correct_charge
from server.services.billing.payers import PayerInput, set_fee
from server.services.billing.practice import get_practice

REFUSED = (IntegrityError, DBAPIError)
VISIT = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 in Chicago


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[BillingWorld]:
    engine = make_engine(settings.database_url)
    yield await make_billing_world(make_sessionmaker(engine))
    await engine.dispose()


def summary(charge: Charge) -> list[tuple[str, list[str], int, int]]:
    return [(ln.code, ln.modifiers, ln.units, ln.amount_cents) for ln in charge.lines]


async def test_a_signed_telehealth_note_proposes_its_charge(world: BillingWorld) -> None:
    note = await world.document(VISIT, [("97110", "24"), ("97530", "23")])
    charge = await world.charge(note)
    # 47 timed minutes are 3 units: 97110 gets the leftover unit (9 minutes against 8).
    assert summary(charge) == [
        ("97110", ["GO", "95"], 2, 2 * 5500),
        ("97530", ["GO", "95"], 1, 6000),
    ]
    assert (charge.place_of_service, charge.status, charge.timed_minutes) == ("10", "proposed", 47)
    assert charge.total_cents == 17_000
    assert [d["code"] for d in charge.diagnoses] == ["F82", "R62.50"]
    assert all(ln.diagnosis_pointers == [1, 2] for ln in charge.lines)
    assert charge.member_id == "PH-448812"
    assert charge.treatment_minutes == 60


async def test_client_elsewhere_untimed_codes_and_short_minutes(world: BillingWorld) -> None:
    note = await world.document(
        VISIT, [("97166", ""), ("97110", "7")], at_home="no"
    )  # an evaluation (one unit) and 7 timed minutes alone (no unit)
    charge = await world.charge(note)
    assert charge.place_of_service == "02"
    assert summary(charge) == [("97166", ["GO", "95"], 1, 19_000)]


async def test_in_person_visit_has_office_pos_and_no_telehealth_modifier(
    world: BillingWorld,
) -> None:
    note = await world.document(VISIT, [("97530", "38")], mode="in_person")
    charge = await world.charge(note)
    assert (charge.place_of_service, summary(charge)) == ("11", [("97530", ["GO"], 3, 18_000)])


async def test_gt_payer_with_pos_02_and_a_separate_telehealth_fee(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        world = await make_billing_world(
            make_sessionmaker(engine),
            payer=PayerInput("State Medicaid", "MCD1", "GT", "always_02", "separate", "MC"),
        )
        async with transaction(world.db) as session:
            await set_fee(
                session, world.doc.therapist, code="97530", mode="telehealth", amount="41",
                actor=world.doc.actor, payer_id=str(world.payer.id),
            )  # fmt: skip
        charge = await world.charge(await world.document(VISIT, [("97530", "30")]))
    finally:
        await engine.dispose()
    assert charge.place_of_service == "02"
    assert summary(charge) == [("97530", ["GO", "GT"], 2, 8200)]


async def test_kx_once_the_year_to_date_total_passes_the_threshold(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        world = await make_billing_world(
            make_sessionmaker(engine),
            payer=PayerInput("Medicare", "MCR1", "95", "cms", "parity", "MB", applies_kx=True),
        )
        async with transaction(world.db) as session:
            session.add(world.doc.therapist)
            practice = await get_practice(session, world.doc.therapist)
            practice.kx_threshold_cents = 300_00  # a low threshold, so two visits cross it
        first = await world.charge(await world.document(VISIT, [("97530", "60")]))  # $240
        async with transaction(world.db) as session:
            loaded = await session.get(Charge, first.id)
            assert loaded is not None
            await confirm_charge(session, world.doc.therapist, loaded, world.doc.actor)
        second = await world.charge(
            await world.document(VISIT + timedelta(days=7), [("97530", "30")])  # +$120
        )
        # OT counts on its own: the OT visits do not bring a PT or speech charge nearer KX.
        async with world.db() as session:
            later = VISIT.date() + timedelta(days=30)
            client, payer = world.doc.client.id, world.payer.id
            assert await year_to_date_cents(session, client, payer, later, "ot") == 24_000
            assert await year_to_date_cents(session, client, payer, later, "pt") == 0
            assert await year_to_date_cents(session, client, payer, later, "slp") == 0
    finally:
        await engine.dispose()
    assert first.lines[0].modifiers == ["GO", "95"]
    assert second.lines[0].modifiers == ["GO", "95", "KX"]


async def test_review_confirm_and_the_lock_holds_by_every_route(world: BillingWorld) -> None:
    charge = await world.charge(await world.document(VISIT, [("97110", "24"), ("97530", "23")]))
    therapist, actor = world.doc.therapist, world.doc.actor
    other = await world.doc.other_user()
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, therapist, charge.id, actor)
        line = loaded.lines[1]
        await update_lines(session, therapist, loaded, [LineEdit(str(line.id), "2", "GO 95")],
                           actor)  # fmt: skip
        assert loaded.total_cents == 2 * 5500 + 2 * 6000
        with pytest.raises(NotYours):
            await confirm_charge(session, other, loaded, actor)
        await confirm_charge(session, therapist, loaded, actor)
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, therapist, charge.id, actor)
        assert loaded.is_confirmed
        with pytest.raises(ChargeConfirmed):
            await update_lines(session, therapist, loaded, [], actor)
        with pytest.raises(ChargeConfirmed):
            await confirm_charge(session, therapist, loaded, actor)
    # The ORM refuses a changed or deleted confirmed charge, and bulk statements.
    async with world.db() as session:
        stored = await session.get(Charge, charge.id)
        assert stored is not None
        stored.total_cents = 1
        with pytest.raises(ChargeLocked):
            await session.flush()
        await session.rollback()
    async with world.db() as session:
        with pytest.raises(ChargeLocked):
            await session.execute(update(ChargeLine).values(units=9))
        with pytest.raises(ChargeLocked):
            await session.execute(delete(Charge).where(Charge.id == charge.id))
        await session.rollback()
    # The database refuses raw SQL on the charge and its lines, and a new line.
    for sql in (
        "UPDATE charges SET total_cents = 1 WHERE id = :id",
        "DELETE FROM charges WHERE id = :id",
        "UPDATE charge_lines SET units = 9 WHERE charge_id = :id",
        "DELETE FROM charge_lines WHERE charge_id = :id",
        "INSERT INTO charge_lines (id, charge_id, line_number, code, modifiers, units, "
        "unit_fee_cents, amount_cents, diagnosis_pointers) VALUES "
        "('00000000-0000-4000-8000-000000000001', :id, 9, '97110', '[]', 1, 1, 1, '[]')",
    ):
        async with world.db() as session:
            with pytest.raises(REFUSED, match="confirmed charge"):
                await session.execute(text(sql), {"id": str(charge.id)})
            await session.rollback()
    async with world.db() as session:
        stored = await session.get(Charge, charge.id)
        assert stored is not None
        assert stored.total_cents == 23_000


async def test_a_correction_reverses_and_replaces(world: BillingWorld) -> None:
    charge = await world.charge(await world.document(VISIT, [("97530", "38")]))
    therapist, actor = world.doc.therapist, world.doc.actor
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, therapist, charge.id, actor)
        await confirm_charge(session, therapist, loaded, actor)
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, therapist, charge.id, actor)
        reversal, replacement = await correct_charge(
            session, therapist, loaded, "Wrong units", actor
        )
        with pytest.raises(ChargeConfirmed):
            await correct_charge(session, therapist, loaded, "Again", actor)
    assert (reversal.kind, reversal.status, reversal.reverses_id) == (
        "reversal", "confirmed", charge.id
    )  # fmt: skip
    assert summary(reversal) == [("97530", ["GO", "95"], -3, -18_000)]
    assert (replacement.status, replacement.replaces_id) == ("proposed", charge.id)
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, therapist, replacement.id, actor)
        line = loaded.lines[0]
        await update_lines(session, therapist, loaded, [LineEdit(str(line.id), "2", "GO 95")],
                           actor)  # fmt: skip
        await confirm_charge(session, therapist, loaded, actor)
        standing = await standing_charges(
            session, therapist, VISIT.date(), VISIT.date() + timedelta(days=1)
        )
        assert [c.id for c in standing] == [replacement.id]
        assert standing[0].total_cents == 12_000
        # The original is still there, unchanged; every step is in the audit log.
        original = await session.get(Charge, charge.id)
        assert original is not None
        assert original.total_cents == 18_000
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(charge.id))
            )
        )
        assert {"charge.propose", "charge.confirm", "charge.correct", "charge.read"} <= set(actions)


async def test_the_signed_notes_procedures_are_locked_too(world: BillingWorld) -> None:
    """The columns billing added to notes are in the signed-note lock the migration re-made."""
    note = await world.document(VISIT, [("97530", "38")])
    for sql in (
        "UPDATE notes SET procedures = '[]' WHERE id = :id",
        "UPDATE notes SET client_at_home = NULL WHERE id = :id",
        "UPDATE notes SET content_format = 'tandem-note-v1' WHERE id = :id",
    ):
        async with world.db() as session:
            with pytest.raises(REFUSED, match="signed note"):
                await session.execute(text(sql), {"id": str(note.id)})
            await session.rollback()
