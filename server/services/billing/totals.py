"""A period's totals by mode: visits, hours, and money, billed where a confirmed charge stands
for the visit and projected (the rate captured at booking) where none does yet."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Note, User
from server.services.audit import Actor, add_audit
from server.services.scheduling.appointments import list_appointments
from server.services.scheduling.common import Mode, Status, local_to_utc

from .charges import standing_charges

NOT_HELD = (Status.cancelled.value, Status.no_show.value)


@dataclass
class ModeFigures:
    visits: int = 0
    minutes: int = 0
    billed_cents: int = 0
    billed_visits: int = 0
    projected_cents: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)

    @property
    def total_cents(self) -> int:
        return self.billed_cents + self.projected_cents


@dataclass
class PeriodTotals:
    label: str
    start: date
    end: date  # inclusive
    by_mode: dict[str, ModeFigures] = field(default_factory=dict)

    @property
    def all_modes(self) -> ModeFigures:
        total = ModeFigures()
        for f in self.by_mode.values():
            total.visits += f.visits
            total.minutes += f.minutes
            total.billed_cents += f.billed_cents
            total.billed_visits += f.billed_visits
            total.projected_cents += f.projected_cents
        return total


def month_bounds(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


async def period_totals(
    session: AsyncSession, therapist: User, label: str, start: date, end: date
) -> PeriodTotals:
    zone = therapist.time_zone
    begin = local_to_utc(start, datetime.min.time(), zone)
    finish = local_to_utc(end + timedelta(days=1), datetime.min.time(), zone)
    appointments = [
        a
        for a in await list_appointments(session, therapist, begin, finish, None)
        if a.status not in NOT_HELD and begin <= a.starts_at < finish
    ]
    charges = await standing_charges(session, therapist, start, end)
    note_ids = [c.note_id for c in charges if c.note_id is not None]
    billed_appointments = set()
    if note_ids:
        rows = await session.execute(
            select(Note.id, Note.appointment_id).where(Note.id.in_(note_ids))
        )
        billed_appointments = {appt for _, appt in rows if appt is not None}
    totals = PeriodTotals(label, start, end, {m.value: ModeFigures() for m in Mode})
    for a in appointments:
        figures = totals.by_mode.setdefault(a.mode, ModeFigures())
        figures.visits += 1
        figures.minutes += int((a.ends_at - a.starts_at).total_seconds() // 60)
        if a.id not in billed_appointments:
            figures.projected_cents += a.rate_cents or 0
    for charge in charges:
        figures = totals.by_mode.setdefault(charge.mode, ModeFigures())
        figures.billed_cents += charge.total_cents
        figures.billed_visits += 1
    return totals


async def week_and_month(
    session: AsyncSession, therapist: User, week_start: date, actor: Actor
) -> list[PeriodTotals]:
    """The week (Monday..Sunday) and its month, for the schedule health page. A week across two
    months belongs to the one holding its Thursday (most of its days), as ISO weeks do."""
    thursday = week_start + timedelta(days=3)
    first, last = month_bounds(thursday)
    periods = [
        await period_totals(
            session, therapist, f"Week of {week_start:%b %-d}", week_start,
            week_start + timedelta(days=6),
        ),
        await period_totals(session, therapist, f"{thursday:%B %Y}", first, last),
    ]  # fmt: skip
    add_audit(
        session, actor, "billing.totals", object_type="user", object_id=therapist.id,
        detail={"week_start": week_start.isoformat()},
    )  # fmt: skip
    return periods
