"""Who pays for a client's visits (coverage; none active is private pay) and the visits a
payer authorized."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Authorization, Client, ClientCoverage, User
from server.services.audit import Actor, add_audit

from .common import ValidationFailed
from .payers import get_payer

RELATIONSHIPS = {"self": "Self (the client is the subscriber)", "child": "Child", "other": "Other"}


@dataclass
class CoverageInput:
    payer_id: str = ""
    member_id: str = ""
    group_number: str = ""
    relationship: str = "child"
    subscriber_first_name: str = ""
    subscriber_last_name: str = ""
    subscriber_dob: str = ""
    starts_on: str = ""


@dataclass
class AuthorizationInput:
    payer_id: str = ""
    number: str = ""
    visits_allowed: str = ""
    starts_on: str = ""
    ends_on: str = ""


def _date(raw: str, key: str, errors: dict[str, str], message: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors[key] = message
        return None


async def active_coverage(
    session: AsyncSession, client_id: uuid.UUID, on: date
) -> ClientCoverage | None:
    """The coverage in force on a date (the latest entered, if several); None is private pay."""
    rows = await session.scalars(
        select(ClientCoverage)
        .where(ClientCoverage.client_id == client_id, ClientCoverage.starts_on <= on)
        .order_by(ClientCoverage.starts_on.desc(), ClientCoverage.created_at.desc())
    )
    for row in rows:
        if row.ended_on is None or row.ended_on >= on:
            return row
    return None


async def list_coverages(session: AsyncSession, client_id: uuid.UUID) -> list[ClientCoverage]:
    rows = await session.scalars(
        select(ClientCoverage)
        .where(ClientCoverage.client_id == client_id)
        .order_by(ClientCoverage.starts_on.desc())
    )
    return list(rows)


async def set_coverage(
    session: AsyncSession, therapist: User, client: Client, data: CoverageInput, actor: Actor
) -> ClientCoverage:
    """A new coverage from its start date; the one it follows ends the day before."""
    errors: dict[str, str] = {}
    payer = await get_payer(session, therapist, data.payer_id) if data.payer_id else None
    if payer is None:
        errors["payer_id"] = "Choose the payer."
    member = data.member_id.strip().upper()[:30]
    if not member or not member.replace("-", "").isalnum():
        errors["member_id"] = "Enter the member id from the insurance card."
    if data.relationship not in RELATIONSHIPS:
        errors["relationship"] = "Choose how the client relates to the subscriber."
    first = " ".join(data.subscriber_first_name.split())[:60]
    last = " ".join(data.subscriber_last_name.split())[:60]
    dob = None
    if data.relationship != "self":
        if not (first and last):
            errors["subscriber_last_name"] = "Name the subscriber (the parent on the card)."
        dob = _date(data.subscriber_dob, "subscriber_dob", errors, "Enter the date of birth.")
    starts = _date(data.starts_on, "starts_on", errors, "Enter the date coverage starts.")
    if errors or payer is None or starts is None:
        raise ValidationFailed(errors)
    for earlier in await list_coverages(session, client.id):
        if earlier.ended_on is None and earlier.starts_on < starts:
            earlier.ended_on = date.fromordinal(starts.toordinal() - 1)
    row = ClientCoverage(
        client_id=client.id, payer_id=payer.id, member_id=member,
        group_number=data.group_number.strip()[:30], relationship_to_subscriber=data.relationship,
        subscriber_first_name=first, subscriber_last_name=last, subscriber_dob=dob,
        starts_on=starts,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "coverage.set", object_type="client", object_id=client.id,
        detail={"payer_id": str(payer.id), "starts_on": starts.isoformat()},
    )  # fmt: skip
    return row


async def end_coverage(
    session: AsyncSession, client: Client, on: date, actor: Actor
) -> ClientCoverage | None:
    """From the day after ``on`` the client pays privately (until a new coverage starts)."""
    current = await active_coverage(session, client.id, on)
    if current is None:
        return None
    current.ended_on = on
    add_audit(
        session, actor, "coverage.end", object_type="client", object_id=client.id,
        detail={"coverage_id": str(current.id), "ended_on": on.isoformat()},
    )  # fmt: skip
    return current


async def add_authorization(
    session: AsyncSession, therapist: User, client: Client, data: AuthorizationInput, actor: Actor
) -> Authorization:
    errors: dict[str, str] = {}
    payer = await get_payer(session, therapist, data.payer_id) if data.payer_id else None
    if payer is None:
        errors["auth_payer_id"] = "Choose the payer that authorized the visits."
    number = data.number.strip()[:30]
    if not number:
        errors["number"] = "Enter the authorization number."
    try:
        visits = int(data.visits_allowed)
    except ValueError:
        visits = 0
    if not 1 <= visits <= 500:
        errors["visits_allowed"] = "Enter the number of visits authorized."
    starts = _date(data.starts_on, "auth_starts_on", errors, "Enter the first day.")
    ends = _date(data.ends_on, "ends_on", errors, "Enter the last day.")
    if starts and ends and ends < starts:
        errors["ends_on"] = "The period ends before it starts."
    if errors or payer is None or starts is None or ends is None:
        raise ValidationFailed(errors)
    row = Authorization(
        client_id=client.id, payer_id=payer.id, number=number, visits_allowed=visits,
        starts_on=starts, ends_on=ends,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "authorization.add", object_type="client", object_id=client.id,
        detail={"payer_id": str(payer.id), "visits": visits, "number": number},
    )  # fmt: skip
    return row


async def list_authorizations(session: AsyncSession, client_id: uuid.UUID) -> list[Authorization]:
    rows = await session.scalars(
        select(Authorization)
        .where(Authorization.client_id == client_id)
        .order_by(Authorization.starts_on.desc())
    )
    return list(rows)


async def authorization_on(
    session: AsyncSession, client_id: uuid.UUID, payer_id: uuid.UUID, on: date
) -> Authorization | None:
    return await session.scalar(
        select(Authorization)
        .where(
            Authorization.client_id == client_id,
            Authorization.payer_id == payer_id,
            Authorization.starts_on <= on,
            Authorization.ends_on >= on,
        )
        .order_by(Authorization.starts_on.desc())
        .limit(1)
    )
