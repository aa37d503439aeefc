"""A realistic synthetic hybrid week for the demo therapist, rebuilt on every `tandem demo`.

Rebuilt rather than topped up: the schedule is relative to today, so last week's seed would
otherwise drift into the past. Everything here is invented.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Appointment,
    AppointmentSeries,
    AvailabilityBlock,
    AvailabilityException,
    CalendarFeed,
    Client,
    License,
    Location,
    Rate,
    SchedulePreferences,
    User,
)
from server.services.audit import Actor, add_audit

from .appointments import book_appointment, set_status
from .availability import BlockInput, add_block
from .calendar_feed import create_feed
from .checks import BookingInput
from .common import Status, week_start
from .profile import add_license, add_location, set_preferences, set_rate

_TABLES = (
    Appointment,
    AppointmentSeries,
    AvailabilityBlock,
    AvailabilityException,
    CalendarFeed,
    License,
    Rate,
    SchedulePreferences,
)


async def _wipe(session: AsyncSession, therapist: User) -> None:
    for table in _TABLES:
        await session.execute(delete(table).where(table.therapist_id == therapist.id))
    await session.execute(delete(Location).where(Location.therapist_id == therapist.id))


async def seed_schedule_demo(
    session: AsyncSession,
    therapist: User,
    actor: Actor,
    *,
    base_url: str,
    today: date | None = None,
) -> list[str]:
    """Licenses, places, rates, a weekly template and two weeks of visits; returns lines to show."""
    await _wipe(session, therapist)
    tz = ZoneInfo(therapist.time_zone)
    today = today or utcnow().astimezone(tz).date()
    monday = week_start(today)
    clients = {
        c.first_name: c
        for c in await session.scalars(select(Client).where(Client.therapist_id == therapist.id))
    }

    await add_license(
        session, therapist, kind="license", state="IL", number="056-0001234",
        expires_on=today + timedelta(days=400), actor=actor,
    )  # fmt: skip
    # Within the 60-day warning window, so the profile and home page show the renewal flag.
    await add_license(
        session, therapist, kind="compact", state="CO", number="OT-COMPACT-0042",
        expires_on=today + timedelta(days=45), actor=actor,
    )  # fmt: skip
    clinic = await add_location(
        session, therapist, kind="clinic", name="Northside Kids Therapy",
        address="1200 W Example Ave, Chicago, IL 60601", actor=actor,
    )  # fmt: skip
    homes = await add_location(
        session, therapist, kind="home_visit", name="Home visits", address="", actor=actor
    )
    for service, mode, amount in (
        ("ot_treatment", None, "120"),
        ("ot_treatment", "telehealth", "110"),
        ("ot_evaluation", None, "250"),
        ("speech_treatment", None, "115"),
    ):
        await set_rate(
            session, therapist, service_type=service, mode=mode, amount=amount, actor=actor
        )
    await set_preferences(
        session, therapist, travel_buffer_minutes="30", long_gap_minutes="120", actor=actor
    )
    # Mon/Wed: clinic mornings, home-visit afternoons. Tue/Thu: telehealth mornings. Fri: clinic.
    for weekday, start, end, mode, loc in (
        (0, "08:00", "12:00", "in_person", clinic.id),
        (0, "13:00", "17:00", "in_person", homes.id),
        (1, "08:00", "12:00", "telehealth", None),
        (2, "08:00", "12:00", "in_person", clinic.id),
        (2, "13:00", "17:00", "in_person", homes.id),
        (3, "08:00", "12:00", "telehealth", None),
        (4, "09:00", "13:00", "in_person", clinic.id),
    ):
        await add_block(
            session,
            therapist,
            BlockInput(str(weekday), start, end, mode, str(loc) if loc else ""),
            actor,
        )

    def on(offset: int) -> str:
        return (monday + timedelta(days=offset)).isoformat()

    maya, leo, priya, sam = clients["Maya"], clients["Leo"], clients["Priya"], clients["Sam"]
    # The licensure problem stays upcoming (the next Tue/Thu telehealth morning), so the flag
    # is actionable rather than history.
    upcoming = next(
        today + timedelta(days=n)
        for n in range(1, 8)
        if (today + timedelta(days=n)).weekday() in (1, 3)
    )
    upcoming_telehealth_day = upcoming.isoformat()
    plans: list[tuple[BookingInput, bool]] = [
        (BookingInput(str(maya.id), on(0), "09:00", "60", "in_person", str(clinic.id),
                      "ot_treatment", repeat="weekly", repeat_count="8"), False),
        (BookingInput(str(sam.id), on(0), "14:00", "60", "in_person", str(homes.id),
                      "ot_treatment", repeat="weekly", repeat_count="8"), False),
        (BookingInput(str(priya.id), on(1), "09:00", "45", "telehealth", "",
                      "speech_treatment", repeat="weekly", repeat_count="6"), False),
        (BookingInput(str(maya.id), on(3), "10:00", "60", "telehealth", "", "ot_treatment"), False),
        (BookingInput(str(sam.id), on(9), "10:00", "90", "in_person", str(clinic.id),
                      "ot_evaluation"), False),
        (BookingInput(str(sam.id), on(2), "09:00", "60", "in_person", str(clinic.id),
                      "ot_treatment"), False),
        (BookingInput(str(maya.id), on(2), "14:00", "60", "in_person", str(homes.id),
                      "ot_treatment"), False),
        # The sprinkled one: a telehealth check-in squeezed into an in-person Wednesday.
        (BookingInput(str(maya.id), on(2), "11:00", "30", "telehealth", "", "ot_treatment",
                      override_reason="Family travelling; short check-in by video."), False),
        # The licensure problem: Leo lives in Wisconsin and no WI license is on file.
        (BookingInput(str(leo.id), upcoming_telehealth_day, "11:00", "60", "telehealth", "",
                      "ot_treatment",
                      override_reason="Imported from paper schedule; WI license application "
                      "pending. Confirm before the visit."), True),
        (BookingInput(str(leo.id), on(7), "16:00", "60", "in_person", str(homes.id),
                      "ot_treatment"), False),
    ]  # fmt: skip
    now = utcnow()
    count = 0
    for data, licensure_override in plans:
        booked = await book_appointment(
            session, therapist, data, actor, allow_licensure_override=licensure_override
        )
        for appt in booked.appointments:
            count += 1
            if appt.ends_at < now:
                await set_status(session, appt, Status.completed, actor)
    feed = await create_feed(session, therapist, actor)
    add_audit(session, actor, "demo.seed.schedule", detail={"appointments": count})
    first = datetime.combine(monday, datetime.min.time())
    return [
        f"Schedule: {count} synthetic appointments from the week of {first:%b %-d}; "
        f"see {base_url}/schedule",
        f"Calendar feed (changes every demo start): {base_url}{feed.path}",
    ]
