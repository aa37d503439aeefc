"""Booking input and the checks every booking passes: instant validation and submit share them."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Appointment, Client, Location, User
from server.services.geography import is_state

from .availability import ConcreteBlock, blocks_between
from .common import (
    SERVICE_TYPES,
    Mode,
    NotFound,
    ValidationFailed,
    as_uuid,
    parse_date,
    parse_time,
)
from .licensure import check_telehealth_licensure
from .profile import get_preferences
from .recurrence import MAX_OCCURRENCES, Occurrence, occurrence_on, weekly_occurrences

CHOOSE_CLIENT = "Choose a client from your caseload."
CHOOSE_LOCATION = "Choose where the in-person visit happens."


@dataclass
class BookingInput:
    """Raw fields as a form or JSON body sends them; dates and times in the therapist's zone."""

    client_id: str = ""
    date: str = ""
    start_time: str = ""
    duration_minutes: str = "60"
    mode: str = ""
    location_id: str = ""
    service_type: str = ""
    client_state: str = ""
    repeat: str = "none"  # none | weekly
    repeat_count: str = ""
    repeat_until: str = ""
    override_reason: str = ""


@dataclass
class CleanBooking:
    client: Client
    first_date: date
    local_start: time
    duration_minutes: int
    mode: str
    location: Location | None
    service_type: str
    client_state: str
    occurrences: list[Occurrence]
    recurring: bool
    override_reason: str


@dataclass(frozen=True)
class Problem:
    code: str  # conflict | travel | outside_block | licensure
    message: str
    overridable: bool
    at: datetime | None = None


@dataclass
class CheckResult:
    problems: list[Problem] = field(default_factory=list)

    def blocking(self, *, override_reason: str, allow_licensure_override: bool) -> list[Problem]:
        """What still stops the booking once an override reason (if any) is applied."""
        reason = bool(override_reason.strip())
        return [
            p
            for p in self.problems
            if not (
                reason and (p.overridable or (p.code == "licensure" and allow_licensure_override))
            )
        ]


async def clean_booking(
    session: AsyncSession, therapist: User, data: BookingInput, *, series_allowed: bool = True
) -> CleanBooking:
    errors: dict[str, str] = {}
    client: Client | None = None
    try:
        client = (
            await session.get(Client, as_uuid(data.client_id, CHOOSE_CLIENT))
            if data.client_id
            else None
        )
    except NotFound:
        client = None
    if client is None or client.therapist_id != therapist.id or client.archived_at is not None:
        errors["client_id"] = CHOOSE_CLIENT
        client = None
    day, start = parse_date(data.date), parse_time(data.start_time)
    if day is None:
        errors["date"] = "Enter the date as YYYY-MM-DD."
    if start is None:
        errors["start_time"] = "Enter a start time like 16:00."
    minutes = int(data.duration_minutes) if data.duration_minutes.strip().isdigit() else 0
    if not 15 <= minutes <= 240:
        errors["duration_minutes"] = "Choose a length between 15 and 240 minutes."
    if data.mode not in Mode.__members__:
        errors["mode"] = "Choose in person or telehealth."
    if data.service_type not in SERVICE_TYPES:
        errors["service_type"] = "Choose the service type."
    location: Location | None = None
    if data.mode == Mode.in_person:
        location = (
            await session.get(Location, as_uuid(data.location_id, CHOOSE_LOCATION))
            if _is_uuid(data.location_id)
            else None
        )
        if location is None or location.therapist_id != therapist.id:
            errors["location_id"] = CHOOSE_LOCATION
            location = None
    client_state = (data.client_state or (client.home_state if client else "")).strip().upper()
    if data.mode == Mode.telehealth and not is_state(client_state):
        errors["client_state"] = "Choose the state the client will be in during the visit."
    recurring = data.repeat == "weekly" and series_allowed
    count: int | None = None
    until: date | None = None
    if recurring:
        if data.repeat_count.strip():
            count = int(data.repeat_count) if data.repeat_count.strip().isdigit() else 0
            if not 2 <= count <= MAX_OCCURRENCES:
                errors["repeat_count"] = f"Repeat between 2 and {MAX_OCCURRENCES} times."
        elif data.repeat_until.strip():
            until = parse_date(data.repeat_until)
            if until is None or (day is not None and until <= day):
                errors["repeat_until"] = "Enter an end date after the first visit."
        else:
            errors["repeat_count"] = "Say how many weeks, or until when, the series repeats."
    if errors or client is None or day is None or start is None:
        raise ValidationFailed(errors)
    zone = therapist.time_zone
    occurrences = (
        weekly_occurrences(day, start, minutes, zone, count=count, until=until)
        if recurring
        else [occurrence_on(day, start, minutes, zone)]
    )
    return CleanBooking(
        client=client,
        first_date=day,
        local_start=start,
        duration_minutes=minutes,
        mode=data.mode,
        location=location,
        service_type=data.service_type,
        client_state=client_state if is_state(client_state) else client.home_state,
        occurrences=occurrences,
        recurring=recurring,
        override_reason=data.override_reason.strip()[:300],
    )


def _is_uuid(raw: str) -> bool:
    try:
        uuid.UUID(raw)
    except ValueError:
        return False
    return True


def place_key(mode: str, location: Location | None, client_id: uuid.UUID) -> str | None:
    """Where the therapist physically is: a clinic, or this client's home. Telehealth: None."""
    if mode != Mode.in_person or location is None:
        return None
    return f"home:{client_id}" if location.is_home_visit else f"loc:{location.id}"


def _when(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%a %b %-d, %-I:%M %p")


def _block_matches(block: ConcreteBlock, mode: str, location: Location | None) -> bool:
    if block.mode != mode:
        return False
    return block.location_id is None or location is None or block.location_id == location.id


async def check_booking(
    session: AsyncSession,
    therapist: User,
    booking: CleanBooking,
    *,
    exclude_ids: Collection[uuid.UUID] = (),
) -> CheckResult:
    zone = therapist.time_zone
    prefs = await get_preferences(session, therapist)
    buffer = timedelta(minutes=prefs.travel_buffer_minutes)
    first = min(o.starts_at for o in booking.occurrences)
    last = max(o.ends_at for o in booking.occurrences)
    existing = [
        a
        for a in await session.scalars(
            select(Appointment).where(
                Appointment.therapist_id == therapist.id,
                Appointment.status != "cancelled",
                Appointment.starts_at < last + buffer,
                Appointment.ends_at > first - buffer,
            )
        )
        if a.id not in exclude_ids
    ]
    tz = ZoneInfo(zone)
    blocks = await blocks_between(
        session,
        therapist,
        first.astimezone(tz).date(),
        last.astimezone(tz).date() + timedelta(days=1),
    )
    new_place = place_key(booking.mode, booking.location, booking.client.id)
    result = CheckResult()
    for occ in booking.occurrences:
        when = _when(occ.starts_at, zone)
        for other in existing:
            if other.starts_at < occ.ends_at and occ.starts_at < other.ends_at:
                result.problems.append(
                    Problem(
                        "conflict",
                        f"{when}: overlaps {other.client.first_name} "
                        f"{other.client.last_name[:1]}.'s visit "
                        f"({_when(other.starts_at, zone)}).",
                        overridable=False,
                        at=occ.starts_at,
                    )
                )
                continue
            other_place = place_key(other.mode, other.location, other.client_id)
            if new_place is None or other_place is None or other_place == new_place:
                continue
            gap = (
                occ.starts_at - other.ends_at
                if other.ends_at <= occ.starts_at
                else other.starts_at - occ.ends_at
            )
            if gap < buffer:
                result.problems.append(
                    Problem(
                        "travel",
                        f"{when}: only {int(gap.total_seconds() // 60)} min to travel to or from "
                        f"another in-person visit; your travel buffer is "
                        f"{prefs.travel_buffer_minutes} min.",
                        overridable=True,
                        at=occ.starts_at,
                    )
                )
        if not any(
            _block_matches(b, booking.mode, booking.location)
            and b.covers(occ.starts_at, occ.ends_at)
            for b in blocks
        ):
            label = Mode(booking.mode).label.lower()
            result.problems.append(
                Problem(
                    "outside_block",
                    f"{when}: outside your {label} hours. Book inside a {label} block, "
                    "or give a reason to override.",
                    overridable=True,
                    at=occ.starts_at,
                )
            )
        if booking.mode == Mode.telehealth:
            licensure = await check_telehealth_licensure(
                session, therapist, booking.client_state, occ.starts_at.astimezone(tz).date()
            )
            if not licensure.allowed:
                prefix = f"{when}: " if booking.recurring else ""
                result.problems.append(
                    Problem("licensure", prefix + licensure.message, False, occ.starts_at)
                )
    return result
