"""A per-therapist iCalendar feed at a secret, revocable URL.

Phone calendars sync through third parties, so events carry only what a phone needs: client
initials, mode, and a clinic address (never a family's home address or any clinical detail).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, CalendarFeed, User
from server.services.audit import Actor, add_audit

from .common import MODE_LABELS, Mode, NotFound, Status

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
NO_CALENDAR = "No such calendar."


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str  # shown once; only its hash is kept

    @property
    def path(self) -> str:
        return f"/calendar/{self.token}.ics"


async def active_feed(session: AsyncSession, therapist: User) -> CalendarFeed | None:
    return await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.therapist_id == therapist.id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def create_feed(session: AsyncSession, therapist: User, actor: Actor) -> NewFeed:
    """A new secret URL; any earlier one stops working (rotate = revoke + create)."""
    await revoke_feed(session, therapist, actor)
    token = secrets.token_urlsafe(32)  # 256 bits
    feed = CalendarFeed(therapist_id=therapist.id, token_hash=hash_token(token))
    session.add(feed)
    await session.flush()
    add_audit(
        session, actor, "calendar_feed.create", object_type="calendar_feed", object_id=feed.id
    )
    return NewFeed(feed, token)


async def revoke_feed(session: AsyncSession, therapist: User, actor: Actor) -> bool:
    feed = await active_feed(session, therapist)
    if feed is None:
        return False
    feed.revoked_at = utcnow()
    add_audit(
        session, actor, "calendar_feed.revoke", object_type="calendar_feed", object_id=feed.id
    )
    return True


def _summary(appt: Appointment) -> str:
    initials = f"{appt.client.first_name[:1]}.{appt.client.last_name[:1]}."
    prefix = "Cancelled: " if appt.status == Status.cancelled else ""
    return f"{prefix}{initials} · {MODE_LABELS.get(appt.mode, appt.mode)}"


def _location(appt: Appointment) -> str:
    if appt.mode == Mode.telehealth:
        return "Telehealth (Tandem)"
    if appt.location is None:
        return "In person"
    if appt.location.is_home_visit:
        return "Home visit (address in Tandem)"
    return f"{appt.location.name}, {appt.location.address}"


def build_calendar(therapist: User, appointments: list[Appointment]) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Tandem//Schedule feed//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Tandem schedule")
    cal.add("x-wr-timezone", therapist.time_zone)
    stamp = utcnow()
    for appt in appointments:
        event = Event()
        event.add("uid", f"{appt.id}@tandem")
        event.add("dtstamp", stamp)
        event.add("dtstart", appt.starts_at)
        event.add("dtend", appt.ends_at)
        event.add("summary", _summary(appt))
        event.add("location", _location(appt))
        event.add("status", "CANCELLED" if appt.status == Status.cancelled else "CONFIRMED")
        event.add("last-modified", appt.updated_at)
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


async def render_feed(session: AsyncSession, token: str, actor: Actor) -> bytes:
    """The feed for a token; unknown and revoked are the same NotFound, so a revoked URL
    reveals nothing."""
    if not 20 <= len(token) <= 100:
        raise NotFound(NO_CALENDAR)
    feed = await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_token(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None:
        raise NotFound(NO_CALENDAR)
    therapist = await session.get(User, feed.therapist_id)
    if therapist is None or not therapist.is_active:
        raise NotFound(NO_CALENDAR)
    now = utcnow()
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.therapist_id == therapist.id,
            Appointment.starts_at >= now - timedelta(days=FEED_PAST_DAYS),
            Appointment.starts_at < now + timedelta(days=FEED_FUTURE_DAYS),
        )
        .order_by(Appointment.starts_at)
    )
    appointments = list(rows.unique())
    feed.last_fetched_at = now
    add_audit(
        session,
        actor,
        "calendar_feed.read",
        object_type="calendar_feed",
        object_id=feed.id,
        detail={"events": len(appointments)},
    )
    return build_calendar(therapist, appointments)
