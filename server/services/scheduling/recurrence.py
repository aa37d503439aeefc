"""Weekly recurrence in the therapist's zone: the wall-clock time holds, the UTC instant moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .common import local_to_utc

MAX_OCCURRENCES = 52
MAX_SPAN_DAYS = 366


@dataclass(frozen=True)
class Occurrence:
    starts_at: datetime
    ends_at: datetime

    def local(self, zone: str) -> datetime:
        return self.starts_at.astimezone(ZoneInfo(zone))


def weekly_dates(first: date, *, count: int | None = None, until: date | None = None) -> list[date]:
    """Same weekday every week from first; bounded by count and/or until (inclusive)."""
    limit = min(count or MAX_OCCURRENCES, MAX_OCCURRENCES)
    last = min(
        until or first + timedelta(days=MAX_SPAN_DAYS), first + timedelta(days=MAX_SPAN_DAYS)
    )
    dates: list[date] = []
    day = first
    while day <= last and len(dates) < limit:
        dates.append(day)
        day += timedelta(weeks=1)
    return dates


def occurrence_on(day: date, wall: time, minutes: int, zone: str) -> Occurrence:
    start = local_to_utc(day, wall, zone)
    # Duration is elapsed time: a 60-minute visit is 60 minutes even across a transition.
    return Occurrence(start, start + timedelta(minutes=minutes))


def weekly_occurrences(
    first: date,
    wall: time,
    minutes: int,
    zone: str,
    *,
    count: int | None = None,
    until: date | None = None,
) -> list[Occurrence]:
    return [
        occurrence_on(d, wall, minutes, zone) for d in weekly_dates(first, count=count, until=until)
    ]
