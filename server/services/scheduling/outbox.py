"""Messages to families leave through an outbox: written with their cause, sent afterwards
by the outbox worker (server/mail/worker.py; delivery.py records each try)."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Appointment, Caregiver, OutboxMessage, User
from server.services.audit import Actor, add_audit

from .common import MODE_LABELS, Mode, NotFound, ValidationFailed


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


async def add_email(
    session: AsyncSession,
    caregiver: Caregiver,
    *,
    kind: str,
    subject: str,
    body: str,
    html_body: str | None = None,
    appointment_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """An email to a caregiver, into the outbox (the caller audits why it was written)."""
    assert caregiver.email is not None  # the caller checked it
    message = OutboxMessage(
        kind=kind,
        channel="email",
        recipient=caregiver.email,
        subject=subject,
        body=body,
        html_body=html_body,
        appointment_id=appointment_id,
        next_attempt_at=due_at,
        dedupe_key=dedupe_key,
    )
    session.add(message)
    await session.flush()
    return message


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
    html_body: str | None = None,
    due_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Put an email about ``appt`` in the outbox, audited with the caregiver it goes to."""
    message = await add_email(
        session,
        caregiver,
        kind=kind,
        subject=subject,
        body=body,
        html_body=html_body,
        appointment_id=appt.id,
        due_at=due_at,
        dedupe_key=dedupe_key,
    )
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
