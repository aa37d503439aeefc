"""What the family page shows: the next visits (with the join button when a telehealth visit
is near), the home program, forms to complete, and the messages sent to this caregiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Appointment, HomeProgramItem, OutboxMessage
from server.services.audit import Actor, add_audit
from server.services.scheduling.common import Mode, Status
from server.services.scheduling.visit_links import VisitLinkSigner, visit_path

from .access import FamilyIdentity
from .forms import FormStatus, form_statuses
from .home_program import list_items

# The join button shows from this long before a telehealth visit until its end.
JOIN_OPENS = timedelta(minutes=30)
UPCOMING = 5
MESSAGES = 10


@dataclass(frozen=True)
class FamilyVisit:
    appointment: Appointment
    join_path: str | None


@dataclass(frozen=True)
class FamilyMessage:
    subject: str
    body: str
    sent_at: datetime | None


@dataclass(frozen=True)
class FamilyOverview:
    visits: list[FamilyVisit]
    items: list[HomeProgramItem]
    messages: list[FamilyMessage]
    forms: list[FormStatus] = field(default_factory=list)


async def _visits(
    session: AsyncSession, identity: FamilyIdentity, now: datetime, links: VisitLinkSigner
) -> list[FamilyVisit]:
    rows = await session.scalars(
        select(Appointment)
        .where(
            Appointment.client_id == identity.client.id,
            Appointment.ends_at > now,
            Appointment.status.in_([Status.booked, Status.checked_in, Status.in_session]),
        )
        .order_by(Appointment.starts_at)
        .limit(UPCOMING)
    )
    visits = []
    for appt in rows.unique():
        join = None
        if appt.mode == Mode.telehealth and appt.starts_at - JOIN_OPENS <= now < appt.ends_at:
            join = visit_path(links.sign(appt.id, identity.caregiver.id, appt.ends_at))
        visits.append(FamilyVisit(appt, join))
    return visits


async def _messages(session: AsyncSession, identity: FamilyIdentity) -> list[FamilyMessage]:
    if not identity.caregiver.email:
        return []
    rows = await session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.recipient == identity.caregiver.email,
            OutboxMessage.status == "sent",
            # Only what was about this client: its visits, or the family page itself.
            OutboxMessage.appointment_id.in_(
                select(Appointment.id).where(Appointment.client_id == identity.client.id)
            ),
        )
        .order_by(OutboxMessage.sent_at.desc())
        .limit(MESSAGES)
    )
    return [FamilyMessage(m.subject, m.body, m.sent_at) for m in rows]


async def family_overview(
    session: AsyncSession,
    identity: FamilyIdentity,
    now: datetime,
    links: VisitLinkSigner,
    actor: Actor,
) -> FamilyOverview:
    """The family page's content; the read is audited with what it showed."""
    overview = FamilyOverview(
        visits=await _visits(session, identity, now, links),
        items=await list_items(session, identity.client),
        messages=await _messages(session, identity),
        forms=await form_statuses(session, identity.client.id),
    )
    add_audit(
        session, actor, "family.view", object_type="client", object_id=identity.client.id,
        detail={"items": [str(i.id) for i in overview.items],
                "visits": [str(v.appointment.id) for v in overview.visits]},
    )  # fmt: skip
    return overview
