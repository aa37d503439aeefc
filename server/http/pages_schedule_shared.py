"""View models and form parsing shared by the schedule pages and the schedule API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData, QueryParams

from server.models import Appointment, User
from server.services.scheduling.availability import ConcreteBlock
from server.services.scheduling.checks import BookingInput, Problem
from server.services.scheduling.common import (
    MODE_LABELS,
    SERVICE_TYPES,
    STATUS_LABELS,
    local_to_utc,
    week_start,
)
from server.services.scheduling.health import Flag, WeekHealth

from .params import query_date

BOOKING_FIELDS = (
    "client_id",
    "date",
    "start_time",
    "duration_minutes",
    "mode",
    "location_id",
    "service_type",
    "client_state",
    "repeat",
    "repeat_count",
    "repeat_until",
    "override_reason",
)


def booking_from_mapping(source: FormData | dict[str, Any]) -> BookingInput:
    values = {
        name: "" if source.get(name) is None else str(source.get(name))[:300]
        for name in BOOKING_FIELDS
    }
    values["repeat"] = values["repeat"] or "none"
    values["duration_minutes"] = values["duration_minutes"] or "60"
    return BookingInput(**values)


def problems_json(problems: list[Problem]) -> list[dict[str, Any]]:
    return [
        {
            "code": p.code,
            "message": p.message,
            "overridable": p.overridable,
            "at": p.at.isoformat() if p.at else None,
        }
        for p in problems
    ]


def today_for(user: User) -> date:
    return datetime.now(ZoneInfo(user.time_zone)).date()


def week_from(params: QueryParams, user: User) -> date:
    return week_start(query_date(params, "week") or today_for(user))


def day_bounds(day: date, days: int, zone: str) -> tuple[datetime, datetime]:
    midnight = datetime.min.time()
    return local_to_utc(day, midnight, zone), local_to_utc(
        day + timedelta(days=days), midnight, zone
    )


def money(cents: int | None) -> str:
    if cents is None:
        return "no rate"
    return f"${cents / 100:,.2f}".replace(".00", "")


@dataclass
class ApptView:
    appt: Appointment
    zone: str
    flags: list[Flag] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.appt.id)

    @property
    def start(self) -> datetime:
        return self.appt.starts_at.astimezone(ZoneInfo(self.zone))

    @property
    def end(self) -> datetime:
        return self.appt.ends_at.astimezone(ZoneInfo(self.zone))

    @property
    def time_range(self) -> str:
        return f"{self.start:%-I:%M %p}\u2013{self.end:%-I:%M %p}"

    @property
    def client_time(self) -> str | None:
        """The client's own clock, shown only when it differs from the therapist's."""
        zone = self.appt.client.time_zone
        local = self.appt.starts_at.astimezone(ZoneInfo(zone))
        if local.utcoffset() == self.start.utcoffset():
            return None
        return f"{local:%-I:%M %p} {local.tzname()} for the family"

    @property
    def client_name(self) -> str:
        return self.appt.client.full_name

    @property
    def mode_label(self) -> str:
        return MODE_LABELS.get(self.appt.mode, self.appt.mode)

    @property
    def service_label(self) -> str:
        return SERVICE_TYPES.get(self.appt.service_type, self.appt.service_type)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.appt.status, self.appt.status)

    @property
    def place(self) -> str:
        if self.appt.mode == "telehealth":
            return f"Telehealth · client in {self.appt.client_state}"
        loc = self.appt.location
        if loc is None:
            return "In person"
        return "Home visit" if loc.is_home_visit else loc.name


@dataclass
class BlockView:
    block: ConcreteBlock
    zone: str
    location_name: str

    @property
    def label(self) -> str:
        tz = ZoneInfo(self.zone)
        start, end = self.block.starts_at.astimezone(tz), self.block.ends_at.astimezone(tz)
        what = MODE_LABELS.get(self.block.mode, self.block.mode)
        where = f" · {self.location_name}" if self.location_name else ""
        return f"{start:%-I:%M %p}\u2013{end:%-I:%M %p} {what}{where}"


@dataclass
class DayView:
    day: date
    is_today: bool
    blocks: list[BlockView]
    appointments: list[ApptView]
    switches: int
    flags: list[Flag]


def build_days(
    start: date,
    days: int,
    user: User,
    appointments: list[Appointment],
    blocks: list[ConcreteBlock],
    location_names: dict[str, str],
    health: WeekHealth | None,
) -> list[DayView]:
    zone = user.time_zone
    tz = ZoneInfo(zone)
    today = today_for(user)
    result: list[DayView] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        flags = health.flags_on(day) if health else []
        result.append(
            DayView(
                day=day,
                is_today=day == today,
                blocks=[
                    BlockView(b, zone, location_names.get(str(b.location_id), ""))
                    for b in blocks
                    if b.day == day
                ],
                appointments=[
                    ApptView(a, zone, [f for f in flags if f.appointment_id == str(a.id)])
                    for a in appointments
                    if a.starts_at.astimezone(tz).date() == day
                ],
                switches=health.switches_by_day.get(day, 0) if health else 0,
                flags=flags,
            )
        )
    return result
