"""The practice log: the family records practising a home-program item (day, minutes, how it
went, a short note); the therapist sees adherence per item and week, and the next progress
note's draft says what the family reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import HomeProgramItem, PracticeEntry
from server.services.audit import Actor, add_audit
from server.services.errors import ValidationFailed

from .access import FamilyIdentity

HOW_IT_WENT = {"easy": "Went well", "some_help": "Needed some help", "hard": "Was hard"}
# A log entry may be for today or a day of the last two weeks, never the future.
BACKDATE = timedelta(days=14)
WEEKS_SHOWN = 4


@dataclass(frozen=True)
class WeekAdherence:
    starts_on: date  # a Monday
    days: int  # days with practice logged
    minutes: int


@dataclass(frozen=True)
class ItemAdherence:
    item: HomeProgramItem
    weeks: list[WeekAdherence]


def today_for(identity: FamilyIdentity, now: datetime) -> date:
    return now.astimezone(ZoneInfo(identity.client.time_zone)).date()


async def log_practice(
    session: AsyncSession, identity: FamilyIdentity, item: HomeProgramItem, *, on: str,
    minutes: str, how_it_went: str, note: str, now: datetime, actor: Actor,
) -> PracticeEntry:  # fmt: skip
    """Records practice of an item the family may see (the caller checked it is theirs)."""
    errors: dict[str, str] = {}
    today = today_for(identity, now)
    try:
        day = date.fromisoformat(on)
    except ValueError:
        day = None
        errors["practiced_on"] = "Choose the day you practised."
    if day is not None and not today - BACKDATE <= day <= today:
        errors["practiced_on"] = "Choose today or a day of the last two weeks."
    try:
        count = int(minutes)
    except ValueError:
        count = 0
    if not 1 <= count <= 240:
        errors["minutes"] = "Minutes: a whole number from 1 to 240."
    if how_it_went not in HOW_IT_WENT:
        errors["how_it_went"] = "Say how it went."
    if len(note) > 300:
        errors["note"] = "Keep the note under 300 characters."
    if errors or day is None:
        raise ValidationFailed(errors)
    entry = PracticeEntry(
        item_id=item.id, client_id=identity.client.id, caregiver_id=identity.caregiver.id,
        practiced_on=day, minutes=count, how_it_went=how_it_went, note=note.strip(),
    )  # fmt: skip
    session.add(entry)
    await session.flush()
    add_audit(
        session, actor, "family.practice_log", object_type="home_program_item",
        object_id=item.id, detail={"entry_id": str(entry.id)},
    )  # fmt: skip
    return entry


async def entries_for_item(
    session: AsyncSession, item: HomeProgramItem, limit: int = 14
) -> list[PracticeEntry]:
    rows = await session.scalars(
        select(PracticeEntry)
        .where(PracticeEntry.item_id == item.id)
        .order_by(PracticeEntry.practiced_on.desc(), PracticeEntry.created_at.desc())
        .limit(limit)
    )
    return list(rows)


async def _entries_between(
    session: AsyncSession, client_id: object, first: date, last: date
) -> list[PracticeEntry]:
    rows = await session.scalars(
        select(PracticeEntry).where(
            PracticeEntry.client_id == client_id,
            PracticeEntry.practiced_on >= first,
            PracticeEntry.practiced_on <= last,
        )
    )
    return list(rows)


async def adherence(
    session: AsyncSession, items: list[HomeProgramItem], client_id: object, today: date
) -> list[ItemAdherence]:
    """Per item, the last WEEKS_SHOWN weeks (Monday to Sunday, newest first)."""
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=n) for n in range(WEEKS_SHOWN)]
    entries = await _entries_between(session, client_id, mondays[-1], today)
    result = []
    for item in items:
        weeks = []
        for monday in mondays:
            mine = [
                e
                for e in entries
                if e.item_id == item.id and monday <= e.practiced_on < monday + timedelta(days=7)
            ]
            weeks.append(
                WeekAdherence(
                    monday, len({e.practiced_on for e in mine}), sum(e.minutes for e in mine)
                )
            )
        result.append(ItemAdherence(item, weeks))
    return result


async def practice_summary(session: AsyncSession, client_id: object, visit_day: date) -> str | None:
    """The Subjective line for a note: what the family logged in the 7 days up to the visit.

    "Parent reports practice 4 of 7 days, 10 min a day (Snack-time waiting 4 days, ...)."
    None when nothing was logged (the draft then says nothing about practice).
    """
    first = visit_day - timedelta(days=6)
    entries = await _entries_between(session, client_id, first, visit_day)
    if not entries:
        return None
    days = {e.practiced_on for e in entries}
    per_day = int(sum(e.minutes for e in entries) / len(days) + 0.5)  # half up
    items = {
        i.id: i.title
        for i in await session.scalars(
            select(HomeProgramItem).where(HomeProgramItem.id.in_({e.item_id for e in entries}))
        )
    }
    parts = []
    for item_id, title in sorted(items.items(), key=lambda kv: kv[1]):
        item_days = len({e.practiced_on for e in entries if e.item_id == item_id})
        parts.append(f"{title} {item_days} day{'s' if item_days != 1 else ''}")
    return (
        f"Parent reports practice {len(days)} of 7 days, {per_day} min a day ({', '.join(parts)})."
    )
