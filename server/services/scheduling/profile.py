"""The practice profile: licenses, locations, rates and schedule preferences."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import License, Location, Rate, SchedulePreferences, User
from server.services.audit import Actor, add_audit
from server.services.geography import is_state, is_time_zone

from .common import NOT_IN_PROFILE, SERVICE_TYPES, Mode, NotFound, ValidationFailed, as_uuid


async def set_time_zone(session: AsyncSession, therapist: User, zone: str, actor: Actor) -> None:
    zone = zone.strip()
    if not is_time_zone(zone):
        raise ValidationFailed({"time_zone": "Choose a time zone from the list."})
    before = therapist.time_zone
    therapist.time_zone = zone
    session.add(therapist)
    add_audit(
        session,
        actor,
        "profile.time_zone",
        object_type="user",
        object_id=therapist.id,
        detail={"from": before, "to": zone},
    )


async def add_license(
    session: AsyncSession,
    therapist: User,
    *,
    kind: str,
    state: str,
    number: str,
    expires_on: str | date,
    actor: Actor,
) -> License:
    errors: dict[str, str] = {}
    state = state.strip().upper()
    if kind not in ("license", "compact"):
        errors["kind"] = "Choose a state license or a compact privilege."
    if not is_state(state):
        errors["state"] = "Choose the state."
    expiry = expires_on if isinstance(expires_on, date) else _date_or_none(expires_on)
    if expiry is None:
        errors["expires_on"] = "Enter the expiry date as YYYY-MM-DD."
    number = number.strip()[:60]
    if kind == "license" and not number:
        errors["number"] = "Enter the license number."
    if errors or expiry is None:
        raise ValidationFailed(errors)
    row = License(
        therapist_id=therapist.id, kind=kind, state=state, number=number, expires_on=expiry
    )
    session.add(row)
    await session.flush()
    add_audit(
        session,
        actor,
        "license.add",
        object_type="license",
        object_id=row.id,
        detail={"kind": kind, "state": state, "expires_on": expiry.isoformat()},
    )
    return row


async def remove_license(
    session: AsyncSession, therapist: User, license_id: uuid.UUID | str, actor: Actor
) -> None:
    row = await session.get(License, as_uuid(license_id, NOT_IN_PROFILE))
    if row is None or row.therapist_id != therapist.id:
        raise NotFound(NOT_IN_PROFILE)
    add_audit(
        session,
        actor,
        "license.remove",
        object_type="license",
        object_id=row.id,
        detail={"kind": row.kind, "state": row.state},
    )
    await session.delete(row)


async def list_locations(
    session: AsyncSession, therapist: User, *, include_archived: bool = False
) -> list[Location]:
    query = select(Location).where(Location.therapist_id == therapist.id)
    if not include_archived:
        query = query.where(Location.archived_at.is_(None))
    return list(await session.scalars(query.order_by(Location.kind, Location.name)))


async def add_location(
    session: AsyncSession, therapist: User, *, kind: str, name: str, address: str, actor: Actor
) -> Location:
    errors: dict[str, str] = {}
    name, address = name.strip()[:120], address.strip()[:300]
    if kind not in ("clinic", "home_visit"):
        errors["kind"] = "Choose a clinic or home visits."
    if not name:
        errors["name"] = "Name the location (e.g. 'Northside clinic')."
    if kind == "clinic" and not address:
        errors["address"] = "Enter the clinic's address."
    if errors:
        raise ValidationFailed(errors)
    row = Location(therapist_id=therapist.id, kind=kind, name=name, address=address)
    session.add(row)
    await session.flush()
    add_audit(session, actor, "location.add", object_type="location", object_id=row.id)
    return row


async def archive_location(
    session: AsyncSession, therapist: User, location_id: uuid.UUID | str, actor: Actor
) -> None:
    """Archived, never deleted: booked appointments still name it."""
    row = await session.get(Location, as_uuid(location_id, NOT_IN_PROFILE))
    if row is None or row.therapist_id != therapist.id:
        raise NotFound(NOT_IN_PROFILE)
    row.archived_at = utcnow()
    add_audit(session, actor, "location.archive", object_type="location", object_id=row.id)


async def list_rates(session: AsyncSession, therapist: User) -> list[Rate]:
    rows = await session.scalars(
        select(Rate).where(Rate.therapist_id == therapist.id).order_by(Rate.service_type)
    )
    return list(rows)


def parse_amount_cents(raw: str) -> int | None:
    text = raw.strip().lstrip("$").replace(",", "")
    try:
        value = round(float(text) * 100)
    except ValueError:
        return None
    return value if 0 <= value <= 10_000_00 else None


async def set_rate(
    session: AsyncSession,
    therapist: User,
    *,
    service_type: str,
    mode: str | None,
    amount: str,
    actor: Actor,
) -> Rate:
    """Upserts one fee. Booked appointments keep the rate they captured."""
    errors: dict[str, str] = {}
    if service_type not in SERVICE_TYPES:
        errors["service_type"] = "Choose a service type."
    mode = mode or None
    if mode is not None and mode not in Mode.__members__:
        errors["mode"] = "Choose in person, telehealth, or both."
    cents = parse_amount_cents(amount)
    if cents is None:
        errors["amount"] = "Enter the fee in dollars, e.g. 120 or 95.50."
    if errors or cents is None:
        raise ValidationFailed(errors)
    row = await session.scalar(
        select(Rate).where(
            Rate.therapist_id == therapist.id,
            Rate.service_type == service_type,
            Rate.mode.is_(None) if mode is None else Rate.mode == mode,
        )
    )
    before = row.amount_cents if row else None
    if row is None:
        row = Rate(therapist_id=therapist.id, service_type=service_type, mode=mode)
        session.add(row)
    row.amount_cents = cents
    await session.flush()
    add_audit(
        session,
        actor,
        "rate.set",
        object_type="rate",
        object_id=row.id,
        detail={"service_type": service_type, "mode": mode, "from": before, "to": cents},
    )
    return row


async def rate_for(
    session: AsyncSession, therapist: User, service_type: str, mode: str
) -> int | None:
    """The mode-specific fee if there is one, else the both-modes fee, else None."""
    rows = await session.scalars(
        select(Rate).where(Rate.therapist_id == therapist.id, Rate.service_type == service_type)
    )
    by_mode = {r.mode: r.amount_cents for r in rows}
    return by_mode.get(mode, by_mode.get(None))


async def get_preferences(session: AsyncSession, therapist: User) -> SchedulePreferences:
    prefs = await session.get(SchedulePreferences, therapist.id)
    if prefs is None:
        # Unsaved defaults: nothing is written just because someone looked.
        prefs = SchedulePreferences(
            therapist_id=therapist.id, travel_buffer_minutes=30, long_gap_minutes=120
        )
    return prefs


async def set_preferences(
    session: AsyncSession,
    therapist: User,
    *,
    travel_buffer_minutes: str,
    long_gap_minutes: str,
    actor: Actor,
) -> SchedulePreferences:
    errors: dict[str, str] = {}
    buffer = _int_or_none(travel_buffer_minutes)
    gap = _int_or_none(long_gap_minutes)
    if buffer is None or not 0 <= buffer <= 180:
        errors["travel_buffer_minutes"] = "Enter minutes between 0 and 180."
    if gap is None or not 30 <= gap <= 480:
        errors["long_gap_minutes"] = "Enter minutes between 30 and 480."
    if errors or buffer is None or gap is None:
        raise ValidationFailed(errors)
    prefs = await session.get(SchedulePreferences, therapist.id)
    if prefs is None:
        prefs = SchedulePreferences(therapist_id=therapist.id)
        session.add(prefs)
    prefs.travel_buffer_minutes, prefs.long_gap_minutes = buffer, gap
    await session.flush()
    add_audit(
        session,
        actor,
        "schedule.preferences",
        object_type="user",
        object_id=therapist.id,
        detail={"travel_buffer_minutes": buffer, "long_gap_minutes": gap},
    )
    return prefs


def _date_or_none(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _int_or_none(raw: str) -> int | None:
    try:
        return int(raw.strip())
    except ValueError:
        return None
