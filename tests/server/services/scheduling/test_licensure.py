from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta

import pytest
from practice import add_child, add_therapist, license_in, unit_of_work
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import utcnow
from server.models import AuditEntry, Client, User
from server.services.audit import Actor
from server.services.scheduling.appointments import BookingRefused, book_appointment
from server.services.scheduling.availability import BlockInput, add_block
from server.services.scheduling.checks import BookingInput
from server.services.scheduling.licensure import check_telehealth_licensure, expiring_licenses
from server.services.scheduling.session_gate import begin_telehealth_session

DAY = date(2027, 3, 2)  # a Tuesday


@asynccontextmanager
async def world(settings: Settings) -> AsyncIterator[tuple[AsyncSession, User, Actor]]:
    """A therapist with telehealth hours every day and no license yet."""
    async with unit_of_work(settings.database_url) as session:
        user, actor = await add_therapist(session)
        for weekday in range(7):
            await add_block(
                session, user, BlockInput(str(weekday), "06:00", "22:00", "telehealth"), actor
            )
        yield session, user, actor


def telehealth(client: Client, day: date = DAY, state: str = "") -> BookingInput:
    return BookingInput(
        client_id=str(client.id), date=day.isoformat(), start_time="10:00", mode="telehealth",
        service_type="ot_treatment", client_state=state,
    )  # fmt: skip


async def test_unlicensed_state_is_refused_with_the_fix(settings: Settings) -> None:
    async with world(settings) as (session, user, actor):
        await license_in(session, user, actor, "IL", DAY + timedelta(days=365))
        leo = await add_child(session, user, "Leo", home_state="WI")
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(session, user, telehealth(leo), actor)
        (problem,) = refused.value.problems
        assert problem.code == "licensure"
        assert problem.message == (
            "You have no active license or compact privilege in Wisconsin (WI). "
            "Add one under Profile → Licenses, or book in person."
        )
        # An override reason does not unlock licensure from the booking form.
        with_reason = telehealth(leo)
        with_reason.override_reason = "please"
        with pytest.raises(BookingRefused):
            await book_appointment(session, user, with_reason, actor)


async def test_compact_privilege_allows(settings: Settings) -> None:
    async with world(settings) as (session, user, actor):
        await license_in(session, user, actor, "CO", DAY + timedelta(days=30), kind="compact")
        priya = await add_child(session, user, "Priya", home_state="CO")
        booked = await book_appointment(session, user, telehealth(priya), actor)
        assert booked.appointments[0].client_state == "CO"
        result = await check_telehealth_licensure(session, user, "co", DAY)
        assert result.allowed
        assert result.via == "compact"


async def test_expired_license_is_refused_and_the_expiry_day_still_counts(
    settings: Settings,
) -> None:
    async with world(settings) as (session, user, actor):
        await license_in(session, user, actor, "IL", DAY - timedelta(days=1))
        maya = await add_child(session, user, "Maya", home_state="IL")
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(session, user, telehealth(maya), actor)
        assert "Illinois (IL)" in refused.value.problems[0].message
        assert (
            await check_telehealth_licensure(session, user, "IL", DAY - timedelta(days=1))
        ).allowed


async def test_the_booking_can_name_where_the_client_will_be(settings: Settings) -> None:
    async with world(settings) as (session, user, actor):
        await license_in(session, user, actor, "IL", DAY + timedelta(days=365))
        maya = await add_child(session, user, "Maya", home_state="IL")
        with pytest.raises(BookingRefused) as refused:
            await book_appointment(session, user, telehealth(maya, state="WI"), actor)
        assert "Wisconsin (WI)" in refused.value.problems[0].message
        # In person is never gated on telehealth licensure.


async def test_expiring_licenses_are_flagged_within_60_days(settings: Settings) -> None:
    async with world(settings) as (session, user, actor):
        today = date(2027, 1, 1)
        for state, days in (("IL", 59), ("CO", 61), ("MN", -3)):
            await license_in(session, user, actor, state, today + timedelta(days=days))
        warnings = await expiring_licenses(session, user, today)
        assert [(w.license.state, w.days_left) for w in warnings] == [("MN", -3), ("IL", 59)]
        assert "expires in 59 days" in warnings[1].message


async def test_session_start_rechecks_licensure(settings: Settings) -> None:
    async with world(settings) as (session, user, actor):
        today = utcnow().date()
        await license_in(session, user, actor, "IL", today + timedelta(days=365))
        maya = await add_child(session, user, "Maya", home_state="IL")
        booked = await book_appointment(
            session, user, telehealth(maya, day=today + timedelta(days=1)), actor
        )
        appt = booked.appointments[0]
        # The parent confirms in the lobby that the child is in Wisconsin today: refused.
        refused = await begin_telehealth_session(
            session, user, appt, actor, video_session_id="vs-9", confirmed_state="WI"
        )
        assert not refused.allowed
        assert (appt.status, appt.video_session_id) == ("booked", None)
        audit = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "appointment.session_start",
                AuditEntry.object_id == str(appt.id),
            )
        )
        assert audit is not None
        assert audit.outcome == "refused"
        allowed = await begin_telehealth_session(
            session, user, appt, actor, video_session_id="vs-9"
        )
        assert allowed.allowed
        assert (appt.status, appt.video_session_id) == ("in_session", "vs-9")
