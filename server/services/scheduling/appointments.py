"""Booking, reading, rescheduling and status changes of appointments (one-off and weekly)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, AppointmentSeries, User
from server.services.audit import Actor, AuditLog, add_audit, record_audit
from server.services.errors import Conflict, not_found_for, owned_id

from .checks import BookingInput, CleanBooking, Problem, check_booking, clean_booking
from .common import Status, ValidationFailed
from .profile import rate_for
from .recurrence import occurrence_on

NO_APPOINTMENT = "No such appointment on your schedule."
# Where each status may go next. Terminal states stay terminal: a completed visit is a
# clinical fact, and a cancelled slot may already be re-booked by someone else.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.booked: frozenset({"checked_in", "in_session", "completed", "cancelled", "no_show"}),
    Status.checked_in: frozenset({"in_session", "completed", "cancelled", "no_show"}),
    Status.in_session: frozenset({"completed"}),
    Status.completed: frozenset(),
    Status.cancelled: frozenset(),
    Status.no_show: frozenset(),
}


class BookingRefused(Conflict):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


async def record_refused_booking(
    log: AuditLog, actor: Actor, data: BookingInput, refused: BookingRefused
) -> None:
    """A refused booking keeps its audit row and its reasons, in a transaction of its own: the
    booking's unit of work rolled back with nothing booked."""
    await record_audit(
        log,
        actor,
        "appointment.book",
        object_type="client",
        object_id=data.client_id or None,
        outcome="refused",
        detail={"problems": sorted({p.code for p in refused.problems}), "date": data.date},
    )


@dataclass(frozen=True)
class Booked:
    appointments: list[Appointment]
    series: AppointmentSeries | None
    overridden: list[Problem]


async def lock_schedule(session: AsyncSession, therapist: User) -> None:
    """Serializes bookings per therapist until the unit of work ends.

    The double-booking check reads, then the insert writes: two requests at once could both pass
    the check. On PostgreSQL the therapist's row is locked (FOR UPDATE), so the second waits and
    then sees the first's visit. SQLite ignores FOR UPDATE and its driver starts a transaction
    only at the first write, so a no-op write takes SQLite's single write lock up front instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            text("UPDATE users SET id = id WHERE id = :id"), {"id": str(therapist.id)}
        )
    else:
        await session.execute(select(User.id).where(User.id == therapist.id).with_for_update())


async def book_appointment(
    session: AsyncSession,
    therapist: User,
    data: BookingInput,
    actor: Actor,
    *,
    allow_licensure_override: bool = False,
) -> Booked:
    """Books one visit or a weekly series, or raises ValidationFailed / BookingRefused.

    Outside-block and travel problems pass with an override reason, which is stored on each
    appointment and audited. A licensure problem never passes through the booking form;
    allow_licensure_override exists for imports of already-agreed visits (the demo uses it), and
    such a visit stays flagged and is checked again when the session starts.
    """
    booking = await clean_booking(session, therapist, data)
    await lock_schedule(session, therapist)
    checks = await check_booking(session, therapist, booking)
    blocking = checks.blocking(
        override_reason=booking.override_reason, allow_licensure_override=allow_licensure_override
    )
    if blocking:
        raise BookingRefused(blocking)
    overridden = checks.problems
    series: AppointmentSeries | None = None
    if booking.recurring:
        tz = ZoneInfo(therapist.time_zone)
        series = AppointmentSeries(
            therapist_id=therapist.id,
            client_id=booking.client.id,
            anchor_zone=therapist.time_zone,
            local_start=booking.local_start,
            duration_minutes=booking.duration_minutes,
            first_date=booking.first_date,
            last_date=booking.occurrences[-1].starts_at.astimezone(tz).date(),
        )
        session.add(series)
        await session.flush()
    rate = await rate_for(session, therapist, booking.service_type, booking.mode)
    appointments: list[Appointment] = []
    for occ in booking.occurrences:
        appt = Appointment(
            therapist_id=therapist.id,
            client_id=booking.client.id,
            series_id=series.id if series else None,
            starts_at=occ.starts_at,
            ends_at=occ.ends_at,
            mode=booking.mode,
            location_id=booking.location.id if booking.location else None,
            client_state=booking.client_state,
            service_type=booking.service_type,
            status=Status.booked.value,
            rate_cents=rate,
            override_reason=booking.override_reason if overridden else None,
            overridden=[p.code for p in overridden if p.at == occ.starts_at],
        )
        appt.client, appt.location = booking.client, booking.location
        session.add(appt)
        appointments.append(appt)
    await session.flush()
    for appt in appointments:
        add_audit(
            session,
            actor,
            "appointment.book",
            object_type="appointment",
            object_id=appt.id,
            detail={
                "client_id": str(appt.client_id),
                "mode": appt.mode,
                "starts_at": appt.starts_at.isoformat(),
                "series_id": str(appt.series_id) if appt.series_id else None,
                "rate_cents": rate,
            },
        )
        if appt.overridden:
            add_audit(
                session,
                actor,
                "appointment.override",
                object_type="appointment",
                object_id=appt.id,
                detail={"overridden": appt.overridden, "reason": booking.override_reason},
            )
    return Booked(appointments, series, overridden)


async def get_appointment_for(
    session: AsyncSession, therapist: User, appointment_id: uuid.UUID | str, actor: Actor
) -> Appointment:
    """One appointment of the therapist's (admins see all); the read is audited."""
    aid = owned_id(appointment_id, NO_APPOINTMENT, actor, "appointment.read", "appointment")
    appt = await session.get(Appointment, aid)
    if appt is None or (appt.therapist_id != therapist.id and not therapist.is_admin):
        exists = appt is not None
        refused = not_found_for(
            NO_APPOINTMENT, actor, "appointment.read", "appointment", aid, exists=exists
        )
        raise refused
    add_audit(session, actor, "appointment.read", object_type="appointment", object_id=appt.id)
    return appt


async def list_appointments(
    session: AsyncSession,
    therapist: User,
    start: datetime,
    end: datetime,
    actor: Actor | None,
    *,
    include_cancelled: bool = True,
) -> list[Appointment]:
    """Appointments overlapping [start, end); audited as one list read when an actor is given."""
    query = select(Appointment).where(
        Appointment.therapist_id == therapist.id,
        Appointment.starts_at < end,
        Appointment.ends_at > start,
    )
    if not include_cancelled:
        query = query.where(Appointment.status != Status.cancelled.value)
    rows = list((await session.scalars(query.order_by(Appointment.starts_at))).unique())
    if actor is not None:
        add_audit(
            session,
            actor,
            "appointment.list",
            object_type="user",
            object_id=therapist.id,
            detail={"from": start.isoformat(), "to": end.isoformat(), "count": len(rows)},
        )
    return rows


async def set_status(
    session: AsyncSession,
    appt: Appointment,
    status: str,
    actor: Actor,
    *,
    reason: str = "",
    video_session_id: str | None = None,
) -> Appointment:
    """Moves an appointment along TRANSITIONS; cancelling needs a reason.

    in_session may carry the video session's id: this is the seam the video-session domain uses
    (after check_telehealth_licensure passes) to link its session to the appointment.
    """
    if status not in TRANSITIONS:
        raise ValidationFailed({"status": "Unknown status."})
    if status not in TRANSITIONS[appt.status]:
        raise ValidationFailed(
            {
                "status": f"A {Status(appt.status).label.lower()} appointment cannot become "
                f"{Status(status).label.lower()}."
            }
        )
    reason = reason.strip()[:300]
    if status == Status.cancelled and not reason:
        raise ValidationFailed({"reason": "Say why the appointment is cancelled."})
    before = appt.status
    now = utcnow()
    appt.status = status
    if status == Status.cancelled:
        appt.cancel_reason = reason
    elif status == Status.checked_in:
        appt.checked_in_at = now
    elif status == Status.in_session:
        appt.started_at = now
        if video_session_id:
            appt.video_session_id = video_session_id[:64]
    elif status == Status.completed:
        appt.ended_at = now
        appt.started_at = appt.started_at or appt.starts_at
    appt.updated_at = now
    await session.flush()
    add_audit(
        session,
        actor,
        "appointment.status",
        object_type="appointment",
        object_id=appt.id,
        detail={
            "from": before,
            "to": status,
            "reason": reason or None,
            "video_session_id": video_session_id,
        },
    )
    return appt


async def reschedule(
    session: AsyncSession,
    therapist: User,
    appt: Appointment,
    data: BookingInput,
    actor: Actor,
    *,
    scope: str = "one",
) -> list[Appointment]:
    """Moves or changes one occurrence, or this and all following ones of its series.

    "following" splits the series: the old rule ends the day before, a new rule starts here, and
    the later occurrences keep their ids (links and invites stay valid) but take the new rule.
    """
    if appt.status != Status.booked:
        raise ValidationFailed({"status": "Only booked appointments can be changed."})
    data.client_id = str(appt.client_id)
    data.repeat = "none"
    booking = await clean_booking(session, therapist, data, series_allowed=False)
    targets = [appt]
    series: AppointmentSeries | None = None
    if scope == "following" and appt.series_id is not None:
        series = await session.get(AppointmentSeries, appt.series_id)
        targets = list(
            (
                await session.scalars(
                    select(Appointment)
                    .where(
                        Appointment.series_id == appt.series_id,
                        Appointment.starts_at >= appt.starts_at,
                        Appointment.status == Status.booked.value,
                    )
                    .order_by(Appointment.starts_at)
                )
            ).unique()
        )
    anchor = series.anchor_zone if series else therapist.time_zone
    tz = ZoneInfo(anchor)
    shift = booking.first_date - appt.starts_at.astimezone(tz).date()
    booking.occurrences = [
        occurrence_on(
            t.starts_at.astimezone(tz).date() + shift,
            booking.local_start,
            booking.duration_minutes,
            anchor,
        )
        for t in targets
    ]
    booking.recurring = len(targets) > 1
    await lock_schedule(session, therapist)
    checks = await check_booking(session, therapist, booking, exclude_ids={t.id for t in targets})
    blocking = checks.blocking(
        override_reason=booking.override_reason, allow_licensure_override=False
    )
    if blocking:
        raise BookingRefused(blocking)
    new_series_id = await _split_series(session, series, booking, targets, tz) if series else None
    rate = await rate_for(session, therapist, booking.service_type, booking.mode)
    for target, occ in zip(targets, booking.occurrences, strict=True):
        before = target.starts_at
        _apply(target, booking, occ.starts_at, occ.ends_at, rate)
        target.overridden = [p.code for p in checks.problems if p.at == occ.starts_at]
        if new_series_id is not None:
            target.series_id = new_series_id
        elif scope == "one":
            # A moved occurrence no longer follows the rule; "this and following" later on
            # must not drag it back.
            target.series_id = None if target.starts_at != before else target.series_id
        add_audit(
            session,
            actor,
            "appointment.reschedule",
            object_type="appointment",
            object_id=target.id,
            detail={
                "scope": scope,
                "from": before.isoformat(),
                "to": target.starts_at.isoformat(),
                "overridden": target.overridden,
                "reason": booking.override_reason or None,
            },
        )
    await session.flush()
    return targets


def _apply(
    target: Appointment, booking: CleanBooking, start: datetime, end: datetime, rate: int | None
) -> None:
    changed_pricing = (target.service_type, target.mode) != (booking.service_type, booking.mode)
    target.starts_at, target.ends_at = start, end
    target.mode, target.service_type = booking.mode, booking.service_type
    target.location_id = booking.location.id if booking.location else None
    target.location = booking.location
    target.client_state = booking.client_state
    target.override_reason = booking.override_reason or target.override_reason
    if changed_pricing:
        # A different service is a different price; a mere move keeps the captured rate.
        target.rate_cents = rate
    target.updated_at = utcnow()


async def _split_series(
    session: AsyncSession,
    series: AppointmentSeries,
    booking: CleanBooking,
    targets: list[Appointment],
    tz: ZoneInfo,
) -> uuid.UUID:
    first_local = targets[0].starts_at.astimezone(tz).date()
    new = AppointmentSeries(
        therapist_id=series.therapist_id,
        client_id=series.client_id,
        anchor_zone=series.anchor_zone,
        local_start=booking.local_start,
        duration_minutes=booking.duration_minutes,
        first_date=booking.occurrences[0].starts_at.astimezone(tz).date(),
        last_date=booking.occurrences[-1].starts_at.astimezone(tz).date(),
    )
    session.add(new)
    await session.flush()
    series.last_date = first_local - timedelta(days=1)
    series.continued_by_id = new.id
    return new.id
