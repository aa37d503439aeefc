"""Vocabulary and time arithmetic the scheduling modules share."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.services.errors import NotFound, ValidationFailed, as_uuid

__all__ = [
    "NOT_IN_PROFILE",
    "SERVICE_TYPES",
    "Mode",
    "NotFound",
    "Status",
    "ValidationFailed",
    "as_uuid",
    "local_to_utc",
    "parse_date",
    "parse_time",
    "week_start",
]


class Mode(enum.StrEnum):
    in_person = "in_person"
    telehealth = "telehealth"

    @property
    def label(self) -> str:
        return "In person" if self is Mode.in_person else "Telehealth"


class Status(enum.StrEnum):
    booked = "booked"
    checked_in = "checked_in"
    in_session = "in_session"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


SERVICE_TYPES: dict[str, str] = {
    "ot_treatment": "OT treatment",
    "ot_evaluation": "OT evaluation",
    "ot_reevaluation": "OT re-evaluation",
    "pt_treatment": "PT treatment",
    "pt_evaluation": "PT evaluation",
    "pt_reevaluation": "PT re-evaluation",
    "speech_treatment": "Speech treatment",
    "speech_evaluation": "Speech evaluation",
    "speech_reevaluation": "Speech re-evaluation",
}

NOT_IN_PROFILE = "Not found in your profile."

MODE_LABELS = {m.value: m.label for m in Mode}
STATUS_LABELS = {s.value: s.label for s in Status}


def local_to_utc(day: date, wall: time, zone: str) -> datetime:
    """A wall-clock time in a zone as UTC.

    A time that does not exist (the spring-forward gap) lands after the gap, as a clock on the
    wall would show it; an ambiguous autumn time takes its first (daylight) occurrence.
    """
    # PEP 495: fold=0 reads a gap time with the offset before the transition (so it moves
    # forward past the gap) and an ambiguous time as its first occurrence.
    return datetime.combine(day, wall).replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse_time(raw: str) -> time | None:
    try:
        parsed = time.fromisoformat(raw.strip())
    except ValueError:
        return None
    return parsed.replace(second=0, microsecond=0, tzinfo=None)
