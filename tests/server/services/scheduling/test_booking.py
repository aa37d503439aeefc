from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from practice import add_child, add_therapist, license_in, unit_of_work
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.models import AuditEntry, Client, Location, User
from server.services.audit import Actor
from server.services.scheduling.appointments import (
    BookingRefused,
    book_appointment,
    set_status,
)
from server.services.scheduling.availability import BlockInput, add_block, add_exception
from server.services.scheduling.checks import BookingInput
from server.services.scheduling.common import ValidationFailed
from server.services.scheduling.profile import add_location, set_rate

MONDAY = date(2027, 3, 1)  # Monday
TUESDAY = date(2027, 3, 2)


@dataclass
class World:
    session: AsyncSession
    user: User
    maya: Client
    sam: Client
    clinic: Location
    homes: Location
    actor: Actor


@asynccontextmanager
async def world(settings: Settings) -> AsyncIterator[World]:
    """Mondays: clinic 8-12, home visits 13-17. Tuesdays: telehealth 8-12. Licensed in IL."""
    async with unit_of_work(settings.database_url) as session:
        user, actor = await add_therapist(session)
        maya = await add_child(session, user, "Maya")
        sam = await add_child(session, user, "Sam")
        clinic = await add_location(
            session, user, kind="clinic", name="Clinic", address="1 Main St", actor=actor
        )
        homes = await add_location(
            session, user, kind="home_visit", name="Homes", address="", actor=actor
        )
        await license_in(session, user, actor)
        for block in (
            BlockInput("0", "08:00", "12:00", "in_person", str(clinic.id)),
            BlockInput("0", "13:00", "17:00", "in_person", str(homes.id)),
            BlockInput("1", "08:00", "12:00", "telehealth"),
        ):
            await add_block(session, user, block, actor)
        await session.flush()
        yield World(session, user, maya, sam, clinic, homes, actor)


def visit(
    client: Client, day: date, at: str, mode: str = "in_person", loc: Location | None = None
) -> BookingInput:
    return BookingInput(
        client_id=str(client.id),
        date=day.isoformat(),
        start_time=at,
        duration_minutes="60",
        mode=mode,
        location_id=str(loc.id) if loc else "",
        service_type="ot_treatment",
    )


async def test_double_booking_is_refused_even_with_a_reason(settings: Settings) -> None:
    async with world(settings) as w:
        await book_appointment(
            w.session, w.user, visit(w.maya, MONDAY, "09:00", loc=w.clinic), w.actor
        )
        clash = visit(w.sam, MONDAY, "09:30", loc=w.clinic)
        clash.override_reason = "Squeeze in"
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(w.session, w.user, clash, w.actor)
        assert [p.code for p in refused.value.problems] == ["conflict"]
        assert "overlaps Maya T.'s visit" in refused.value.problems[0].message


async def test_a_cancelled_slot_can_be_booked_again(settings: Settings) -> None:
    async with world(settings) as w:
        first = await book_appointment(
            w.session, w.user, visit(w.maya, MONDAY, "09:00", loc=w.clinic), w.actor
        )
        with pytest.raises(ValidationFailed):
            await set_status(w.session, first.appointments[0], "cancelled", w.actor)  # no reason
        await set_status(w.session, first.appointments[0], "cancelled", w.actor, reason="Sick")
        again = await book_appointment(
            w.session, w.user, visit(w.sam, MONDAY, "09:00", loc=w.clinic), w.actor
        )
        assert again.appointments[0].status == "booked"


async def test_outside_block_needs_an_override_reason_which_is_recorded(
    settings: Settings,
) -> None:
    async with world(settings) as w:
        evening = visit(w.maya, TUESDAY, "18:00", mode="telehealth")
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(w.session, w.user, evening, w.actor)
        assert [p.code for p in refused.value.problems] == ["outside_block"]
        assert "outside your telehealth hours" in refused.value.problems[0].message
        evening.override_reason = "Parent works late this week"
        booked = await book_appointment(w.session, w.user, evening, w.actor)
        appt = booked.appointments[0]
        assert appt.overridden == ["outside_block"]
        assert appt.override_reason == "Parent works late this week"
        audit = await w.session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "appointment.override", AuditEntry.object_id == str(appt.id)
            )
        )
        assert audit is not None
        assert audit.detail["reason"] == "Parent works late this week"


async def test_telehealth_in_an_in_person_block_is_outside_its_hours(settings: Settings) -> None:
    async with world(settings) as w:
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(
                w.session, w.user, visit(w.maya, MONDAY, "10:00", mode="telehealth"), w.actor
            )
        assert [p.code for p in refused.value.problems] == ["outside_block"]


async def test_travel_buffer_between_different_places(settings: Settings) -> None:
    async with world(settings) as w:
        await book_appointment(
            w.session, w.user, visit(w.maya, MONDAY, "13:00", loc=w.homes), w.actor
        )
        # Sam's home is another place: 14:00 leaves no time to drive.
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(
                w.session, w.user, visit(w.sam, MONDAY, "14:00", loc=w.homes), w.actor
            )
        assert [p.code for p in refused.value.problems] == ["travel"]
        ok = await book_appointment(
            w.session, w.user, visit(w.sam, MONDAY, "14:30", loc=w.homes), w.actor
        )
        assert ok.appointments


async def test_time_off_removes_the_block(settings: Settings) -> None:
    async with world(settings) as w:
        await add_exception(
            w.session, w.user, on_date=MONDAY.isoformat(), kind="time_off", actor=w.actor
        )
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(
                w.session, w.user, visit(w.maya, MONDAY, "09:00", loc=w.clinic), w.actor
            )
        assert [p.code for p in refused.value.problems] == ["outside_block"]


async def test_rate_is_captured_at_booking(settings: Settings) -> None:
    async with world(settings) as w:
        await set_rate(
            w.session, w.user, service_type="ot_treatment", mode=None, amount="120", actor=w.actor
        )
        await set_rate(
            w.session, w.user, service_type="ot_treatment", mode="telehealth", amount="100",
            actor=w.actor,
        )  # fmt: skip
        in_person = await book_appointment(
            w.session, w.user, visit(w.maya, MONDAY, "09:00", loc=w.clinic), w.actor
        )
        tele = await book_appointment(
            w.session, w.user, visit(w.sam, TUESDAY, "09:00", mode="telehealth"), w.actor
        )
        await set_rate(
            w.session, w.user, service_type="ot_treatment", mode=None, amount="150", actor=w.actor
        )
        assert in_person.appointments[0].rate_cents == 12000
        assert tele.appointments[0].rate_cents == 10000


async def test_status_transitions(settings: Settings) -> None:
    async with world(settings) as w:
        booked = await book_appointment(
            w.session, w.user, visit(w.maya, MONDAY, "09:00", loc=w.clinic), w.actor
        )
        appt = booked.appointments[0]
        await set_status(w.session, appt, "checked_in", w.actor)
        await set_status(w.session, appt, "in_session", w.actor, video_session_id="vs-1")
        assert appt.video_session_id == "vs-1"
        await set_status(w.session, appt, "completed", w.actor)
        with pytest.raises(ValidationFailed):
            await set_status(w.session, appt, "cancelled", w.actor, reason="too late")
        assert appt.ended_at is not None


async def test_invalid_booking_names_each_field(settings: Settings) -> None:
    async with world(settings) as w:
        with pytest.raises(ValidationFailed) as failed:
            await book_appointment(
                w.session,
                w.user,
                BookingInput(client_id="nope", date="tomorrow", start_time="", mode="car"),
                w.actor,
            )
        assert {"client_id", "date", "start_time", "mode", "service_type"} <= set(
            failed.value.errors
        )
