"""Messages to families leave through an outbox: written with their cause, sent afterwards.

The sender is pluggable (`OutboxSender`); the default only logs, so nothing leaves the machine
unless an operator configures a real sender (put one on AppState.extras["outbox_sender"]).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, Caregiver, OutboxMessage, User
from server.services.audit import Actor, add_audit

from .common import MODE_LABELS, Mode, NotFound, ValidationFailed

log = logging.getLogger("tandem.outbox")

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class OutgoingMessage:
    id: str
    channel: str
    recipient: str
    subject: str
    body: str


class OutboxSender(Protocol):
    async def send(self, message: OutgoingMessage) -> None:
        """Delivers or raises; the outbox records either."""
        ...


class LoggingSender:
    """Logs that a message would be sent (domain only, never the address or the body)."""

    async def send(self, message: OutgoingMessage) -> None:
        domain = message.recipient.rpartition("@")[2] or "?"
        log.info(
            "outbox message not sent (logging sender)",
            extra={"message_id": message.id, "channel": message.channel, "domain": domain},
        )


def _invite_body(appt: Appointment, caregiver: Caregiver, therapist: User) -> str:
    zone = appt.client.time_zone
    local = appt.starts_at.astimezone(ZoneInfo(zone))
    lines = [
        f"Hello {caregiver.name},",
        "",
        f"{therapist.name} has booked a {MODE_LABELS.get(appt.mode, appt.mode).lower()} visit "
        f"for {appt.client.first_name}.",
        f"When: {local:%A %B %-d, %Y at %-I:%M %p} ({zone})",
    ]
    if appt.mode == Mode.telehealth:
        lines.append(
            "Where: online. Your join link arrives in a separate message before the visit."
        )
    elif appt.location is not None and appt.location.is_home_visit:
        lines.append("Where: at your home.")
    elif appt.location is not None:
        lines.append(f"Where: {appt.location.name}, {appt.location.address}")
    lines += ["", "Reply to this message if you need to change the time."]
    return "\n".join(lines)


def emailable_caregiver(appt: Appointment, caregiver_id: str) -> Caregiver:
    """The client's caregiver to write to; refused when unknown or without an email address."""
    caregiver = next((c for c in appt.client.caregivers if str(c.id) == caregiver_id), None)
    if caregiver is None:
        raise NotFound("No such caregiver for this client.")
    if not caregiver.email:
        raise ValidationFailed({"caregiver_id": f"{caregiver.name} has no email address on file."})
    return caregiver


async def queue_email(
    session: AsyncSession,
    actor: Actor,
    appt: Appointment,
    caregiver: Caregiver,
    *,
    kind: str,
    subject: str,
    body: str,
    audit_action: str,
) -> OutboxMessage:
    """Put an email about ``appt`` in the outbox, audited with the caregiver it goes to."""
    assert caregiver.email is not None  # emailable_caregiver checked it
    message = OutboxMessage(
        kind=kind,
        channel="email",
        recipient=caregiver.email,
        subject=subject,
        body=body,
        appointment_id=appt.id,
    )
    session.add(message)
    await session.flush()
    add_audit(
        session,
        actor,
        audit_action,
        object_type="appointment",
        object_id=appt.id,
        detail={"outbox_id": str(message.id), "caregiver_id": str(caregiver.id)},
    )
    return message


async def queue_invite(
    session: AsyncSession,
    therapist: User,
    appt: Appointment,
    caregiver_id: str,
    actor: Actor,
) -> OutboxMessage:
    caregiver = emailable_caregiver(appt, caregiver_id)
    local = appt.starts_at.astimezone(ZoneInfo(appt.client.time_zone))
    return await queue_email(
        session,
        actor,
        appt,
        caregiver,
        kind="appointment.invite",
        subject=f"{appt.client.first_name}'s visit on {local:%a %b %-d at %-I:%M %p}",
        body=_invite_body(appt, caregiver, therapist),
        audit_action="appointment.invite",
    )


async def list_outbox_for(session: AsyncSession, appt: Appointment) -> list[OutboxMessage]:
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.appointment_id == appt.id)
        .order_by(OutboxMessage.created_at)
    )
    return list(rows)


async def deliver_pending(session: AsyncSession, sender: OutboxSender, *, limit: int = 50) -> int:
    """Tries each pending message once; returns how many were sent."""
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    sent = 0
    for row in list(rows):
        row.attempts += 1
        try:
            await sender.send(
                OutgoingMessage(str(row.id), row.channel, row.recipient, row.subject, row.body)
            )
        except Exception as exc:  # any sender failure is recorded, never raised into a request
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            continue
        row.status, row.sent_at = "sent", utcnow()
        sent += 1
    add_audit(session, Actor.system(), "outbox.deliver", detail={"sent": sent})
    return sent
