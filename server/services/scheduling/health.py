"""Schedule health: patterns in a hybrid week that wear a therapist down, each explained.

Pure analysis over a week's appointments and concrete blocks, so it is cheap to test; the
async wrapper only gathers the inputs.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, User
from server.services.audit import Actor

from .availability import ConcreteBlock, blocks_between
from .checks import place_key
from .common import Mode, Status, local_to_utc
from .licensure import check_telehealth_licensure
from .profile import get_preferences

# Each flag kind: a one-sentence why, naming the pattern it helps avoid.
EXPLANATIONS: dict[str, str] = {
    "mode_switches": (
        "Switching between in-person and telehealth more than once a day costs set-up and "
        "travel time each way; batching modes by day or half-day avoids the churn."
    ),
    "sprinkled_telehealth": (
        "A telehealth visit dropped into an in-person day outside your telehealth hours usually "
        "means a video call from the car or a hallway; keep telehealth inside its blocks."
    ),
    "after_hours": (
        "Visits outside any availability block are how evenings disappear; book inside a block "
        "or add a one-off block on purpose."
    ),
    "travel_too_short": (
        "Back-to-back in-person visits at different places without your travel buffer make you "
        "late for the second family."
    ),
    "dead_gap": (
        "A long empty stretch between in-person visits is unpaid time away from your desk; fill "
        "it with telehealth at a fixed spot or move the visits together."
    ),
    "licensure": "A telehealth visit for a state where you hold no active license or compact "
    "privilege will be refused when the session starts.",
}


@dataclass(frozen=True)
class Flag:
    kind: str
    day: date
    message: str
    appointment_id: str | None = None

    @property
    def why(self) -> str:
        return EXPLANATIONS[self.kind]


@dataclass
class ModeTotals:
    minutes: int = 0
    income_cents: int = 0
    count: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)


@dataclass
class WeekHealth:
    week_start: date
    zone: str
    flags: list[Flag] = field(default_factory=list)
    switches_by_day: dict[date, int] = field(default_factory=dict)
    totals: dict[str, ModeTotals] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.flags

    def flags_on(self, day: date) -> list[Flag]:
        return [f for f in self.flags if f.day == day]

    def by_kind(self) -> dict[str, list[Flag]]:
        grouped: dict[str, list[Flag]] = defaultdict(list)
        for f in self.flags:
            grouped[f.kind].append(f)
        return dict(grouped)

    @property
    def projected_income_cents(self) -> int:
        return sum(t.income_cents for t in self.totals.values())


def _hm(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%-I:%M %p")


def analyze_week(
    appointments: list[Appointment],
    blocks: list[ConcreteBlock],
    *,
    zone: str,
    week_start: date,
    travel_buffer_minutes: int,
    long_gap_minutes: int,
    unlicensed_ids: frozenset[str] = frozenset(),
) -> WeekHealth:
    tz = ZoneInfo(zone)
    health = WeekHealth(week_start, zone, totals={m.value: ModeTotals() for m in Mode})
    live = [a for a in appointments if a.status not in (Status.cancelled, Status.no_show)]
    by_day: dict[date, list[Appointment]] = defaultdict(list)
    for a in sorted(live, key=lambda a: a.starts_at):
        by_day[a.starts_at.astimezone(tz).date()].append(a)
        totals = health.totals[a.mode]
        totals.count += 1
        totals.minutes += int((a.ends_at - a.starts_at).total_seconds() // 60)
        totals.income_cents += a.rate_cents or 0
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        todays = by_day.get(day, [])
        day_blocks = [b for b in blocks if b.day == day]
        modes = [a.mode for a in todays]
        switches = sum(1 for x, y in itertools.pairwise(modes) if x != y)
        health.switches_by_day[day] = switches
        if switches >= 2:
            health.flags.append(
                Flag("mode_switches", day, f"{day:%A}: {switches} switches between modes.")
            )
        has_in_person = Mode.in_person in modes
        for a in todays:
            label = f"{a.client.first_name} {a.client.last_name[:1]}. at {_hm(a.starts_at, tz)}"
            in_any = any(b.covers(a.starts_at, a.ends_at) for b in day_blocks)
            in_own = any(b.mode == a.mode and b.covers(a.starts_at, a.ends_at) for b in day_blocks)
            if not in_any:
                health.flags.append(
                    Flag(
                        "after_hours", day, f"{day:%A}: {label} is outside every block.", str(a.id)
                    )
                )
            elif a.mode == Mode.telehealth and has_in_person and not in_own:
                health.flags.append(
                    Flag(
                        "sprinkled_telehealth",
                        day,
                        f"{day:%A}: telehealth with {label} sits in an in-person stretch.",
                        str(a.id),
                    )
                )
            if str(a.id) in unlicensed_ids:
                health.flags.append(
                    Flag(
                        "licensure",
                        day,
                        f"{day:%A}: telehealth with {label}: "
                        f"no active license in {a.client_state}.",
                        str(a.id),
                    )
                )
        in_person = [a for a in todays if a.mode == Mode.in_person]
        for prev, nxt in itertools.pairwise(in_person):
            gap = int((nxt.starts_at - prev.ends_at).total_seconds() // 60)
            places_differ = place_key(prev.mode, prev.location, prev.client_id) != place_key(
                nxt.mode, nxt.location, nxt.client_id
            )
            if places_differ and 0 <= gap < travel_buffer_minutes:
                health.flags.append(
                    Flag(
                        "travel_too_short",
                        day,
                        f"{day:%A}: {gap} min between {_hm(prev.ends_at, tz)} and "
                        f"{_hm(nxt.starts_at, tz)} at different places "
                        f"(buffer {travel_buffer_minutes} min).",
                        str(nxt.id),
                    )
                )
        # Idle time counts between any two visits (a telehealth visit fills a gap too), but
        # only on days out of the office, where the gap cannot be used at a desk.
        if has_in_person:
            for prev, nxt in itertools.pairwise(todays):
                gap = int((nxt.starts_at - prev.ends_at).total_seconds() // 60)
                if gap >= long_gap_minutes:
                    health.flags.append(
                        Flag(
                            "dead_gap",
                            day,
                            f"{day:%A}: {gap // 60} h {gap % 60:02d} min idle between visits "
                            f"({_hm(prev.ends_at, tz)} to {_hm(nxt.starts_at, tz)}).",
                            str(nxt.id),
                        )
                    )
    return health


async def week_health(
    session: AsyncSession, therapist: User, week_start: date, actor: Actor | None = None
) -> WeekHealth:
    """Gathers the week (Monday..Sunday in the therapist's zone) and analyses it.

    Flags name clients, so pass the actor unless the caller already audited its own list read.
    """
    from .appointments import list_appointments

    zone = therapist.time_zone
    start = local_to_utc(week_start, datetime.min.time(), zone)
    end = local_to_utc(week_start + timedelta(days=7), datetime.min.time(), zone)
    appointments = await list_appointments(session, therapist, start, end, actor)
    blocks = await blocks_between(session, therapist, week_start, week_start + timedelta(days=7))
    prefs = await get_preferences(session, therapist)
    tz = ZoneInfo(zone)
    unlicensed: set[str] = set()
    for a in appointments:
        if a.mode == Mode.telehealth and a.status not in (Status.cancelled, Status.no_show):
            result = await check_telehealth_licensure(
                session, therapist, a.client_state, a.starts_at.astimezone(tz).date()
            )
            if not result.allowed:
                unlicensed.add(str(a.id))
    return analyze_week(
        appointments,
        blocks,
        zone=zone,
        week_start=week_start,
        travel_buffer_minutes=prefs.travel_buffer_minutes,
        long_gap_minutes=prefs.long_gap_minutes,
        unlicensed_ids=frozenset(unlicensed),
    )


async def upcoming_licensure_problems(
    session: AsyncSession, therapist: User, *, days: int = 14
) -> list[tuple[Appointment, str]]:
    """Booked telehealth visits in the coming days that the session-start gate would refuse."""
    from .appointments import list_appointments

    now = utcnow()
    tz = ZoneInfo(therapist.time_zone)
    rows = await list_appointments(
        session, therapist, now, now + timedelta(days=days), None, include_cancelled=False
    )
    problems: list[tuple[Appointment, str]] = []
    for a in rows:
        if a.mode != Mode.telehealth or a.status not in (Status.booked, Status.checked_in):
            continue
        result = await check_telehealth_licensure(
            session, therapist, a.client_state, a.starts_at.astimezone(tz).date()
        )
        if not result.allowed:
            problems.append((a, result.message))
    return problems
