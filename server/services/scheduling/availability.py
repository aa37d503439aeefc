"""The weekly template of availability blocks and its exceptions, made concrete for a date range."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import AvailabilityBlock, AvailabilityException, Location, User
from server.services.audit import Actor, add_audit

from .common import (
    NOT_IN_PROFILE,
    Mode,
    NotFound,
    ValidationFailed,
    as_uuid,
    local_to_utc,
    parse_date,
    parse_time,
)

NO_BLOCK = "No such block."
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class ConcreteBlock:
    """A block on a real date: UTC instants computed in the therapist's zone for that date."""

    day: date
    starts_at: datetime
    ends_at: datetime
    mode: str
    location_id: uuid.UUID | None
    source: str  # template | extra

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.starts_at <= start and end <= self.ends_at


@dataclass(frozen=True)
class BlockInput:
    weekday: str = ""
    start_time: str = ""
    end_time: str = ""
    mode: str = ""
    location_id: str = ""


async def _clean_block_fields(
    session: AsyncSession, therapist: User, start: str, end: str, mode: str, location_id: str
) -> tuple[time, time, str, uuid.UUID | None, dict[str, str]]:
    errors: dict[str, str] = {}
    start_t, end_t = parse_time(start), parse_time(end)
    if start_t is None:
        errors["start_time"] = "Enter a start time like 09:00."
    if end_t is None:
        errors["end_time"] = "Enter an end time like 12:00."
    if start_t and end_t and end_t <= start_t:
        errors["end_time"] = "The block must end after it starts (same day)."
    if mode not in Mode.__members__:
        errors["mode"] = "Choose in person or telehealth."
    loc: uuid.UUID | None = None
    if location_id:
        location = await session.get(Location, as_uuid(location_id, NOT_IN_PROFILE))
        if location is None or location.therapist_id != therapist.id:
            errors["location_id"] = "Choose one of your locations."
        else:
            loc = location.id
    if mode == Mode.telehealth:
        loc = None
    return start_t or time(0), end_t or time(0), mode, loc, errors


async def add_block(
    session: AsyncSession, therapist: User, data: BlockInput, actor: Actor
) -> AvailabilityBlock:
    start, end, mode, loc, errors = await _clean_block_fields(
        session, therapist, data.start_time, data.end_time, data.mode, data.location_id
    )
    weekday = int(data.weekday) if data.weekday.strip().isdigit() else -1
    if not 0 <= weekday <= 6:
        errors["weekday"] = "Choose a day of the week."
    if not errors:
        for other in await list_blocks(session, therapist):
            if other.weekday == weekday and other.start_time < end and start < other.end_time:
                errors["start_time"] = (
                    f"Overlaps your {WEEKDAYS[weekday]} {other.start_time:%H:%M} to "
                    f"{other.end_time:%H:%M} block; one block per stretch of time."
                )
    if errors:
        raise ValidationFailed(errors)
    block = AvailabilityBlock(
        therapist_id=therapist.id,
        weekday=weekday,
        start_time=start,
        end_time=end,
        mode=mode,
        location_id=loc,
    )
    session.add(block)
    await session.flush()
    add_audit(
        session,
        actor,
        "availability.block.add",
        object_type="availability_block",
        object_id=block.id,
        detail={"weekday": weekday, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}", "mode": mode},
    )
    return block


async def remove_block(
    session: AsyncSession, therapist: User, block_id: uuid.UUID | str, actor: Actor
) -> None:
    block = await session.get(AvailabilityBlock, as_uuid(block_id, NO_BLOCK))
    if block is None or block.therapist_id != therapist.id:
        raise NotFound(NO_BLOCK)
    add_audit(
        session,
        actor,
        "availability.block.remove",
        object_type="availability_block",
        object_id=block.id,
    )
    await session.delete(block)


async def list_blocks(session: AsyncSession, therapist: User) -> list[AvailabilityBlock]:
    rows = await session.scalars(
        select(AvailabilityBlock)
        .where(AvailabilityBlock.therapist_id == therapist.id)
        .order_by(AvailabilityBlock.weekday, AvailabilityBlock.start_time)
    )
    return list(rows)


async def add_exception(
    session: AsyncSession,
    therapist: User,
    *,
    on_date: str,
    kind: str,
    start_time: str = "",
    end_time: str = "",
    mode: str = "",
    location_id: str = "",
    note: str = "",
    actor: Actor,
) -> AvailabilityException:
    errors: dict[str, str] = {}
    day = parse_date(on_date)
    if day is None:
        errors["on_date"] = "Enter the date as YYYY-MM-DD."
    if kind not in ("time_off", "extra"):
        errors["kind"] = "Choose time off or an extra block."
    start: time | None = None
    end: time | None = None
    loc: uuid.UUID | None = None
    if kind == "extra" or start_time or end_time:
        start, end, mode_clean, loc, field_errors = await _clean_block_fields(
            session, therapist, start_time, end_time, mode or "telehealth", location_id
        )
        if kind == "time_off":
            field_errors.pop("mode", None)
        errors.update(field_errors)
        mode = mode_clean
    if errors or day is None:
        raise ValidationFailed(errors)
    row = AvailabilityException(
        therapist_id=therapist.id,
        on_date=day,
        kind=kind,
        start_time=start,
        end_time=end,
        mode=mode if kind == "extra" else None,
        location_id=loc if kind == "extra" else None,
        note=note.strip()[:200],
    )
    session.add(row)
    await session.flush()
    add_audit(
        session,
        actor,
        "availability.exception.add",
        object_type="availability_exception",
        object_id=row.id,
        detail={"date": day.isoformat(), "kind": kind},
    )
    return row


async def remove_exception(
    session: AsyncSession, therapist: User, exception_id: uuid.UUID | str, actor: Actor
) -> None:
    row = await session.get(AvailabilityException, as_uuid(exception_id, NOT_IN_PROFILE))
    if row is None or row.therapist_id != therapist.id:
        raise NotFound(NOT_IN_PROFILE)
    add_audit(
        session,
        actor,
        "availability.exception.remove",
        object_type="availability_exception",
        object_id=row.id,
    )
    await session.delete(row)


async def list_exceptions(
    session: AsyncSession, therapist: User, start: date, end: date
) -> list[AvailabilityException]:
    rows = await session.scalars(
        select(AvailabilityException)
        .where(
            AvailabilityException.therapist_id == therapist.id,
            AvailabilityException.on_date >= start,
            AvailabilityException.on_date < end,
        )
        .order_by(AvailabilityException.on_date, AvailabilityException.start_time)
    )
    return list(rows)


def _minus(
    blocks: list[ConcreteBlock], off_start: datetime, off_end: datetime
) -> list[ConcreteBlock]:
    """Cuts a time-off span out of blocks (a block may split in two)."""
    out: list[ConcreteBlock] = []
    for b in blocks:
        if off_end <= b.starts_at or b.ends_at <= off_start:
            out.append(b)
            continue
        if b.starts_at < off_start:
            out.append(
                ConcreteBlock(b.day, b.starts_at, off_start, b.mode, b.location_id, b.source)
            )
        if off_end < b.ends_at:
            out.append(ConcreteBlock(b.day, off_end, b.ends_at, b.mode, b.location_id, b.source))
    return out


def concrete_blocks(
    template: list[AvailabilityBlock],
    exceptions: list[AvailabilityException],
    zone: str,
    start: date,
    end: date,
) -> list[ConcreteBlock]:
    """Blocks on each date in [start, end), with time off removed and extra blocks added."""
    result: list[ConcreteBlock] = []
    day = start
    while day < end:
        todays = [
            ConcreteBlock(
                day,
                local_to_utc(day, b.start_time, zone),
                local_to_utc(day, b.end_time, zone),
                b.mode,
                b.location_id,
                "template",
            )
            for b in template
            if b.weekday == day.weekday()
        ]
        for ex in exceptions:
            if ex.on_date != day:
                continue
            if ex.kind == "time_off":
                if ex.start_time is None or ex.end_time is None:
                    todays = []
                else:
                    todays = _minus(
                        todays,
                        local_to_utc(day, ex.start_time, zone),
                        local_to_utc(day, ex.end_time, zone),
                    )
            elif ex.start_time is not None and ex.end_time is not None and ex.mode:
                todays.append(
                    ConcreteBlock(
                        day,
                        local_to_utc(day, ex.start_time, zone),
                        local_to_utc(day, ex.end_time, zone),
                        ex.mode,
                        ex.location_id,
                        "extra",
                    )
                )
        result.extend(sorted(todays, key=lambda b: b.starts_at))
        day += timedelta(days=1)
    return result


async def blocks_between(
    session: AsyncSession, therapist: User, start: date, end: date
) -> list[ConcreteBlock]:
    template = await list_blocks(session, therapist)
    exceptions = await list_exceptions(session, therapist, start, end)
    return concrete_blocks(template, exceptions, therapist.time_zone, start, end)
