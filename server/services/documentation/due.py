"""Due dates: a progress report every 10 treatment visits, recertification before the plan ends.

Treatment visits count in both modes; evaluations and cancelled or missed visits do not. The
count restarts at the last signed progress report (or at the start of the active plan, since a
re-evaluation reviews every goal too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, Client, Note, PlanOfCare, User

from .plans import active_plan

VISITS_PER_REPORT = 10
# Flag a report this many visits ahead, and a recertification this many days ahead.
REPORT_WARNING_VISITS = 2
RECERT_WARNING_DAYS = 21
COUNTED = ("completed", "booked", "checked_in", "in_session")


@dataclass(frozen=True)
class DueItem:
    client_id: uuid.UUID
    client_name: str
    kind: str  # progress_report | recertification
    due_on: date | None  # None: the due visit is not booked yet
    state: str  # upcoming | due_soon | overdue
    detail: str

    @property
    def flagged(self) -> bool:
        return self.state in ("due_soon", "overdue")


def _is_treatment(service_type: str) -> bool:
    return "evaluation" not in service_type


async def _report_since(session: AsyncSession, client_id: uuid.UUID) -> date | None:
    last: date | None = await session.scalar(
        select(func.max(Note.service_date)).where(
            Note.client_id == client_id,
            Note.note_type == "progress_report",
            Note.status == "signed",
        )
    )
    return last


async def progress_report_due(
    session: AsyncSession, client: Client, plan: PlanOfCare, today: date
) -> DueItem:
    zone = ZoneInfo(client.time_zone)
    since = await _report_since(session, client.id)
    # Visits on the plan's first day count (the evaluation is not a treatment visit); the
    # report's own visit closed the previous ten.
    if since is not None and since >= plan.cert_start:
        first = since + timedelta(days=1)
    else:
        first = plan.cert_start
    rows = await session.scalars(
        select(Appointment)
        .where(Appointment.client_id == client.id, Appointment.status.in_(COUNTED))
        .order_by(Appointment.starts_at)
    )
    visits = [
        a
        for a in rows
        if _is_treatment(a.service_type) and a.starts_at.astimezone(zone).date() >= first
    ]
    done = [a for a in visits if a.status == "completed"]
    due_visit = visits[VISITS_PER_REPORT - 1] if len(visits) >= VISITS_PER_REPORT else None
    due_on = due_visit.starts_at.astimezone(zone).date() if due_visit else None
    left = VISITS_PER_REPORT - len(done)
    if left <= 0:
        state, detail = "overdue", f"{len(done)} treatment visits since the last report"
    elif left <= REPORT_WARNING_VISITS or (due_on is not None and due_on <= today):
        state, detail = "due_soon", f"due by visit {VISITS_PER_REPORT} ({left} visit(s) left)"
    else:
        state, detail = "upcoming", f"{len(done)} of {VISITS_PER_REPORT} treatment visits done"
    return DueItem(client.id, client.full_name, "progress_report", due_on, state, detail)


def recertification_due(client: Client, plan: PlanOfCare, today: date) -> DueItem:
    days = (plan.cert_end - today).days
    if days < 0:
        state, detail = "overdue", f"certification ended {plan.cert_end:%b %-d, %Y}"
    elif days <= RECERT_WARNING_DAYS:
        state, detail = "due_soon", f"certification ends in {days} day(s)"
    else:
        state, detail = "upcoming", f"certified through {plan.cert_end:%b %-d, %Y}"
    return DueItem(client.id, client.full_name, "recertification", plan.cert_end, state, detail)


async def client_due(
    session: AsyncSession, client: Client, today: date | None = None
) -> list[DueItem]:
    plan = await active_plan(session, client.id)
    if plan is None:
        return []
    today = today or utcnow().astimezone(ZoneInfo(client.time_zone)).date()
    return [
        await progress_report_due(session, client, plan, today),
        recertification_due(client, plan, today),
    ]


async def caseload_due(
    session: AsyncSession, user: User, today: date | None = None
) -> list[DueItem]:
    """What the dashboard shows: only the items due soon or overdue, soonest first."""
    clients = await session.scalars(
        select(Client).where(Client.therapist_id == user.id, Client.archived_at.is_(None))
    )
    items = [item for c in clients for item in await client_due(session, c, today) if item.flagged]
    return sorted(items, key=lambda i: (i.state != "overdue", i.due_on or date.max))
