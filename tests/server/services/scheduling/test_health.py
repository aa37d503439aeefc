from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from server.models import Appointment, Client, Location
from server.services.scheduling.availability import ConcreteBlock
from server.services.scheduling.common import local_to_utc
from server.services.scheduling.health import EXPLANATIONS, WeekHealth, analyze_week

ZONE = "America/Chicago"
MONDAY = date(2027, 3, 1)
CLINIC = Location(id=uuid.uuid4(), kind="clinic", name="Clinic", address="1 Main St")
HOMES = Location(id=uuid.uuid4(), kind="home_visit", name="Homes", address="")


def at(day: date, hhmm: str) -> datetime:
    return local_to_utc(day, time.fromisoformat(hhmm), ZONE)


def kid(name: str) -> Client:
    return Client(
        id=uuid.uuid4(), first_name=name, last_name="Test", time_zone=ZONE, home_state="IL"
    )


def appt(
    client: Client, day: date, start: str, mode: str, loc: Location | None = None, rate: int = 0
) -> Appointment:
    a = Appointment(
        id=uuid.uuid4(),
        client_id=client.id,
        starts_at=at(day, start),
        ends_at=at(day, start) + timedelta(minutes=60),
        mode=mode,
        location_id=loc.id if loc else None,
        client_state="IL",
        service_type="ot_treatment",
        status="booked",
        rate_cents=rate,
    )
    a.client, a.location = client, loc
    return a


def block(day: date, start: str, end: str, mode: str, loc: Location | None = None) -> ConcreteBlock:
    return ConcreteBlock(
        day, at(day, start), at(day, end), mode, loc.id if loc else None, "template"
    )


def template_week() -> list[ConcreteBlock]:
    """Monday in-person at the clinic all day; Tuesday telehealth mornings."""
    tuesday = MONDAY + timedelta(days=1)
    return [
        block(MONDAY, "08:00", "17:00", "in_person", CLINIC),
        block(tuesday, "08:00", "12:00", "telehealth"),
    ]


def analyze(appointments: list[Appointment], blocks: list[ConcreteBlock]) -> WeekHealth:
    return analyze_week(
        appointments, blocks, zone=ZONE, week_start=MONDAY,
        travel_buffer_minutes=30, long_gap_minutes=120,
    )  # fmt: skip


def test_sprinkled_telehealth_week_is_flagged() -> None:
    a, b, c = kid("Ann"), kid("Ben"), kid("Cy")
    week = [
        appt(a, MONDAY, "09:00", "in_person", CLINIC, 12000),
        appt(b, MONDAY, "10:00", "telehealth", rate=11000),  # sprinkled into the clinic day
        appt(c, MONDAY, "11:00", "in_person", CLINIC, 12000),
        appt(a, MONDAY, "07:00", "telehealth", rate=11000),  # before any block
    ]
    health = analyze(week, template_week())
    kinds = sorted(f.kind for f in health.flags)
    assert kinds == ["after_hours", "mode_switches", "sprinkled_telehealth"]
    assert health.switches_by_day[MONDAY] == 3
    sprinkled = next(f for f in health.flags if f.kind == "sprinkled_telehealth")
    assert sprinkled.appointment_id == str(week[1].id)
    assert "Ben T. at 10:00 AM" in sprinkled.message
    assert sprinkled.why == EXPLANATIONS["sprinkled_telehealth"]
    assert health.totals["telehealth"].income_cents == 22000
    assert health.totals["in_person"].hours == 2.0


def test_a_batched_week_is_not_flagged() -> None:
    a, b, c = kid("Ann"), kid("Ben"), kid("Cy")
    tuesday = MONDAY + timedelta(days=1)
    week = [
        appt(a, MONDAY, "09:00", "in_person", CLINIC),
        appt(c, MONDAY, "10:00", "in_person", CLINIC),
        appt(b, tuesday, "09:00", "telehealth"),
        appt(a, tuesday, "10:30", "telehealth"),
    ]
    health = analyze(week, template_week())
    assert health.flags == []
    assert health.healthy
    assert set(health.switches_by_day.values()) == {0}


def test_travel_and_dead_gaps_between_in_person_visits() -> None:
    a, b, c = kid("Ann"), kid("Ben"), kid("Cy")
    blocks = [block(MONDAY, "08:00", "18:00", "in_person", HOMES)]
    week = [
        appt(a, MONDAY, "08:00", "in_person", HOMES),
        appt(b, MONDAY, "09:10", "in_person", HOMES),  # another family's home, 10 minutes later
        appt(c, MONDAY, "13:10", "in_person", HOMES),  # three idle hours
    ]
    health = analyze(week, blocks)
    assert sorted(f.kind for f in health.flags) == ["dead_gap", "travel_too_short"]


def test_cancelled_visits_do_not_count() -> None:
    a = kid("Ann")
    late = appt(a, MONDAY, "19:00", "telehealth", rate=9000)
    late.status = "cancelled"
    health = analyze([late], template_week())
    assert health.flags == []
    assert health.projected_income_cents == 0
