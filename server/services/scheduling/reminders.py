"""Visit reminders, 24 hours and 1 hour before, queued by the outbox worker when they fall due.

Queued only when due (never far ahead), each once per visit, start time and caregiver (the
outbox's dedupe key), so a visit moved gets reminders for its new time; a reminder still waiting
for a retry when its visit is cancelled or moved is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Appointment, Caregiver, OutboxMessage
from server.services.audit import Actor

from .common import MODE_LABELS, Mode, Status
from .outbox import queue_email
from .visit_links import VisitLinkSigner, visit_path

ACTIVE = (Status.booked, Status.checked_in)


@dataclass(frozen=True)
class Reminder:
    name: str  # in the dedupe key and the kind
    before: timedelta  # due this long before the visit
    until: timedelta  # and not sent once the visit is this close (the next reminder's turn)
    # Only for visits booked at least this long before (the invite covers one booked later).
    booked_ahead: timedelta
    when_words: str


REMINDERS = (
    Reminder("24h", timedelta(hours=24), timedelta(hours=2), timedelta(hours=24), "coming up"),
    Reminder("1h", timedelta(hours=1), timedelta(0), timedelta(0), "in about an hour"),
)


def _key(reminder: Reminder, appt: Appointment, caregiver: Caregiver) -> str:
    return f"reminder.{reminder.name}:{appt.id}:{caregiver.id}:{int(appt.starts_at.timestamp())}"


def _bodies(
    reminder: Reminder, appt: Appointment, caregiver: Caregiver, join_url: str | None
) -> tuple[str, str]:
    zone = appt.client.time_zone
    local = appt.starts_at.astimezone(ZoneInfo(zone))
    mode = MODE_LABELS.get(appt.mode, appt.mode)
    when = f"{local:%A %B %-d at %-I:%M %p} ({zone})"
    lines = [
        f"Hello {caregiver.name},",
        "",
        f"A reminder: {appt.client.first_name}'s visit is {reminder.when_words}.",
        f"When: {when}",
        f"How: {mode}",
    ]
    html = [
        f"<p>Hello {escape(caregiver.name)},</p>",
        f"<p>A reminder: {escape(appt.client.first_name)}'s visit is {reminder.when_words}.</p>",
        f"<p>When: {escape(when)}<br>How: {escape(mode)}</p>",
    ]
    if join_url is not None:
        lines += [
            "",
            "Join from this link when it is time (it works for this visit only; please do not "
            "forward it):",
            join_url,
        ]
        html.append(
            f'<p><a href="{escape(join_url)}" style="display:inline-block;padding:12px 20px;'
            'background:#1d4ed8;color:#ffffff;border-radius:6px;text-decoration:none">'
            "Join the visit</a></p>"
            "<p>It works for this visit only; please do not forward this email.</p>"
        )
    elif appt.location is not None and appt.location.is_home_visit:
        lines.append("Where: at your home.")
        html.append("<p>Where: at your home.</p>")
    elif appt.location is not None:
        where = f"{appt.location.name}, {appt.location.address}"
        lines.append(f"Where: {where}")
        html.append(f"<p>Where: {escape(where)}</p>")
    lines += ["", "Reply to this message if you need to change the time."]
    html.append("<p>Reply to this message if you need to change the time.</p>")
    return "\n".join(lines), "\n".join(html)


async def _cancel_stale(session: AsyncSession) -> int:
    rows = await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.kind.like("reminder.%")
        )
    )
    cancelled = 0
    for row in list(rows):
        appt = await session.get(Appointment, row.appointment_id) if row.appointment_id else None
        start = (row.dedupe_key or "").rpartition(":")[2]
        if (
            appt is None
            or appt.status not in ACTIVE
            or start != str(int(appt.starts_at.timestamp()))
        ):
            row.status, row.last_error = "cancelled", "the visit was cancelled or moved"
            cancelled += 1
    return cancelled


async def queue_due_reminders(
    session: AsyncSession, now: datetime, base_url: str, links: VisitLinkSigner
) -> int:
    """Queues every reminder that is due and not queued yet; returns how many."""
    await _cancel_stale(session)
    appts = await session.scalars(
        select(Appointment).where(
            Appointment.status.in_([s.value for s in ACTIVE]),
            Appointment.starts_at > now,
            Appointment.starts_at <= now + max(r.before for r in REMINDERS),
        )
    )
    queued = 0
    for appt in list(appts.unique()):
        for reminder in REMINDERS:
            if not appt.starts_at - reminder.before <= now < appt.starts_at - reminder.until:
                continue
            if appt.starts_at - appt.created_at < reminder.booked_ahead:
                continue
            for caregiver in appt.client.caregivers:
                if not caregiver.email:
                    continue
                key = _key(reminder, appt, caregiver)
                if await session.scalar(
                    select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)
                ):
                    continue
                join_url = None
                if appt.mode == Mode.telehealth:
                    token = links.sign(appt.id, caregiver.id, appt.ends_at)
                    join_url = base_url + visit_path(token)
                body, html = _bodies(reminder, appt, caregiver, join_url)
                local = appt.starts_at.astimezone(ZoneInfo(appt.client.time_zone))
                await queue_email(
                    session,
                    Actor.system(),
                    appt,
                    caregiver,
                    kind=f"reminder.{reminder.name}",
                    subject=f"Reminder: {appt.client.first_name}'s visit "
                    f"{local:%a %b %-d, %-I:%M %p}",
                    body=body,
                    html_body=html,
                    audit_action="appointment.reminder",
                    dedupe_key=key,
                )
                queued += 1
    return queued
