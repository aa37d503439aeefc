from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from practice import add_child, add_therapist, license_in, unit_of_work
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.models import Appointment, AppointmentSeries, Client, User
from server.services.audit import Actor
from server.services.scheduling.appointments import book_appointment, reschedule
from server.services.scheduling.availability import BlockInput, add_block
from server.services.scheduling.checks import BookingInput
from server.services.scheduling.common import local_to_utc
from server.services.scheduling.recurrence import weekly_occurrences

CHICAGO, PHOENIX = ZoneInfo("America/Chicago"), ZoneInfo("America/Phoenix")


@asynccontextmanager
async def seeded(settings: Settings) -> AsyncIterator[tuple[AsyncSession, User, Client, Actor]]:
    """A Chicago therapist licensed in IL, telehealth weekdays 15:00-18:00, a Phoenix client."""
    async with unit_of_work(settings.database_url) as session:
        user, actor = await add_therapist(session)
        client = await add_child(session, user, "Ana", "Lopez", time_zone="America/Phoenix")
        await license_in(session, user, actor)
        for weekday in range(5):
            await add_block(
                session, user, BlockInput(str(weekday), "15:00", "18:00", "telehealth"), actor
            )
        await session.flush()
        yield session, user, client, actor


def weekly(client: Client, first: date, count: int = 4, at: str = "16:00") -> BookingInput:
    return BookingInput(
        client_id=str(client.id),
        date=first.isoformat(),
        start_time=at,
        duration_minutes="60",
        mode="telehealth",
        service_type="ot_treatment",
        repeat="weekly",
        repeat_count=str(count),
    )


def test_weekly_occurrences_keep_wall_time_across_fall_back() -> None:
    first = date(2026, 10, 22)  # a Thursday, Chicago on CDT
    occurrences = weekly_occurrences(first, time(16), 60, "America/Chicago", count=4)
    local = [o.starts_at.astimezone(CHICAGO) for o in occurrences]
    assert [(d.date(), d.hour, d.minute) for d in local] == [
        (date(2026, 10, 22), 16, 0),
        (date(2026, 10, 29), 16, 0),
        (date(2026, 11, 5), 16, 0),
        (date(2026, 11, 12), 16, 0),
    ]
    # The UTC instant moves by an hour when Chicago leaves daylight time on Nov 1.
    assert [o.starts_at.hour for o in occurrences] == [21, 21, 22, 22]
    assert all(o.ends_at - o.starts_at == timedelta(hours=1) for o in occurrences)


def test_a_time_in_the_spring_gap_moves_forward() -> None:
    # 2:30 AM does not exist in Chicago on Mar 8 2026; a wall clock would show 3:30 AM CDT.
    at = local_to_utc(date(2026, 3, 8), time(2, 30), "America/Chicago").astimezone(CHICAGO)
    assert (at.hour, at.minute, at.tzname()) == (3, 30, "CDT")


async def test_series_across_fall_back_shows_the_shift_to_a_phoenix_family(
    settings: Settings,
) -> None:
    async with seeded(settings) as (session, user, client, actor):
        booked = await book_appointment(session, user, weekly(client, date(2026, 10, 22)), actor)
        assert booked.series is not None
        rows = sorted(booked.appointments, key=lambda a: a.starts_at)
        therapist_local = [a.starts_at.astimezone(CHICAGO) for a in rows]
        family_local = [a.starts_at.astimezone(PHOENIX) for a in rows]
        assert [t.hour for t in therapist_local] == [16, 16, 16, 16]
        # Phoenix keeps MST all year: the family sees 2 PM, then 3 PM after Nov 1.
        assert [f.hour for f in family_local] == [14, 14, 15, 15]


async def test_series_across_spring_forward_shows_the_shift(settings: Settings) -> None:
    async with seeded(settings) as (session, user, client, actor):
        booked = await book_appointment(session, user, weekly(client, date(2026, 3, 2)), actor)
        rows = sorted(booked.appointments, key=lambda a: a.starts_at)
        assert [a.starts_at.astimezone(CHICAGO).hour for a in rows] == [16, 16, 16, 16]
        assert [a.starts_at.astimezone(PHOENIX).hour for a in rows] == [15, 14, 14, 14]
        assert [a.starts_at.astimezone(CHICAGO).date().weekday() for a in rows] == [0] * 4


async def test_edit_one_occurrence_leaves_the_rest(settings: Settings) -> None:
    async with seeded(settings) as (session, user, client, actor):
        booked = await book_appointment(session, user, weekly(client, date(2026, 10, 22)), actor)
        rows = sorted(booked.appointments, key=lambda a: a.starts_at)
        second = rows[1]
        change = weekly(client, date(2026, 10, 29), at="17:00")
        change.repeat = "none"
        await reschedule(session, user, second, change, actor, scope="one")
        hours = [a.starts_at.astimezone(CHICAGO).hour for a in rows]
        assert hours == [16, 17, 16, 16]
        assert second.series_id is None  # detached: later series edits leave it alone


async def test_this_and_following_splits_the_series_and_keeps_ids(settings: Settings) -> None:
    async with seeded(settings) as (session, user, client, actor):
        booked = await book_appointment(session, user, weekly(client, date(2026, 10, 22)), actor)
        rows = sorted(booked.appointments, key=lambda a: a.starts_at)
        ids = [a.id for a in rows]
        old_series = booked.series
        assert old_series is not None
        change = weekly(client, date(2026, 10, 30), at="15:00")  # Thursday -> Friday, 3 PM
        change.repeat = "none"
        await reschedule(session, user, rows[1], change, actor, scope="following")
        fresh = list(
            (
                await session.scalars(
                    select(Appointment)
                    .where(Appointment.client_id == client.id)
                    .order_by(Appointment.starts_at)
                )
            ).unique()
        )
        assert [a.id for a in fresh] == ids
        local = [a.starts_at.astimezone(CHICAGO) for a in fresh]
        assert [(d.date(), d.hour) for d in local] == [
            (date(2026, 10, 22), 16),
            (date(2026, 10, 30), 15),
            (date(2026, 11, 6), 15),  # after fall-back, still 3 PM on the wall
            (date(2026, 11, 13), 15),
        ]
        assert fresh[0].series_id == old_series.id
        assert fresh[1].series_id != old_series.id
        assert len({a.series_id for a in fresh[1:]}) == 1
        await session.refresh(old_series)
        assert old_series.last_date == date(2026, 10, 28)
        assert old_series.continued_by_id == fresh[1].series_id
        assert await session.get(AppointmentSeries, fresh[1].series_id) is not None
