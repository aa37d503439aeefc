"""What goes out for a date range: the standing confirmed charges, each either ready or held
back with its problems; and the 837P of the ready insurance charges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Charge, Client, Payer, PracticeProfile, User
from server.services.audit import Actor, add_audit

from .charges import standing_charges
from .checks import Problem, charge_problems, subscriber_of
from .coverage import authorization_on
from .practice import get_practice
from .x837 import Batch, Claim, Person, Provider, ServiceLine, build_837p


@dataclass
class Outgoing:
    ready: list[Charge] = field(default_factory=list)
    held: list[tuple[Charge, list[Problem]]] = field(default_factory=list)


async def outgoing(
    session: AsyncSession,
    therapist: User,
    start: date,
    end: date,
    *,
    insurance: bool | None = None,
    client_id: object | None = None,
) -> Outgoing:
    """Standing charges in the range (insurance only, private pay only, or both), sorted into
    ready and held back."""
    practice = await get_practice(session, therapist)
    result = Outgoing()
    for charge in await standing_charges(session, therapist, start, end):
        if insurance is not None and charge.is_private_pay == insurance:
            continue
        if client_id is not None and str(charge.client_id) != str(client_id):
            continue
        problems = await charge_problems(session, charge, practice)
        if problems:
            result.held.append((charge, problems))
        else:
            result.ready.append(charge)
    return result


def _name_parts(name: str) -> tuple[str, str]:
    """'Jordan Avery, OTR/L' -> ('Avery', 'Jordan'): credentials after a comma are left off."""
    words = name.partition(",")[0].split()
    if len(words) < 2:
        return (words[0] if words else "", "")
    return words[-1], " ".join(words[:-1])


def _person(client: Client) -> Person:
    return Person(
        client.last_name, client.first_name, client.date_of_birth, client.address_line,
        client.city, client.home_state, client.postal_code,
    )  # fmt: skip


async def _claim(session: AsyncSession, charge: Charge) -> Claim:
    client = await session.get(Client, charge.client_id)
    payer = await session.get(Payer, charge.payer_id)
    coverage = await subscriber_of(session, charge)
    assert client is not None
    assert payer is not None
    patient = _person(client)
    relationship = coverage.relationship_to_subscriber if coverage else "self"
    subscriber = patient
    if coverage is not None and relationship != "self":
        subscriber = Person(
            coverage.subscriber_last_name, coverage.subscriber_first_name,
            coverage.subscriber_dob, client.address_line, client.city, client.home_state,
            client.postal_code,
        )  # fmt: skip
    auth = await authorization_on(session, charge.client_id, payer.id, charge.service_date)
    return Claim(
        claim_number=charge.claim_number, place_of_service=charge.place_of_service,
        diagnoses=[d["code"] for d in charge.diagnoses],
        lines=[
            ServiceLine(line.code, list(line.modifiers), line.amount_cents, line.units,
                        list(line.diagnosis_pointers), charge.service_date)
            for line in charge.lines
        ],
        payer_name=payer.name, payer_code=payer.payer_code, filing_code=payer.claim_filing_code,
        member_id=charge.member_id, group_number=coverage.group_number if coverage else "",
        relationship=relationship, subscriber=subscriber, patient=patient,
        authorization=auth.number if auth else "",
    )  # fmt: skip


def provider_of(practice: PracticeProfile, therapist: User) -> Provider:
    last, first = _name_parts(therapist.name)
    return Provider(
        practice_name=practice.practice_name, billing_npi=practice.billing_npi,
        tax_id=practice.tax_id, taxonomy_code=practice.taxonomy_code,
        address_line=practice.address_line, city=practice.city, state=practice.state,
        postal_code=practice.postal_code, phone=practice.phone,
        contact_name=therapist.name.partition(",")[0], rendering_last=last,
        rendering_first=first, rendering_npi=practice.rendering_npi,
        submitter_id=practice.submitter_id, receiver_id=practice.receiver_id,
        receiver_name=practice.receiver_name,
    )  # fmt: skip


@dataclass
class Export:
    text: str
    claims: list[Charge]
    held: list[tuple[Charge, list[Problem]]]


async def export_837p(
    session: AsyncSession,
    therapist: User,
    start: date,
    end: date,
    actor: Actor,
    *,
    now: datetime | None = None,
    production: bool = True,
) -> Export:
    """The 837P of the ready insurance charges in the range; the held ones are returned with
    their reasons (the caller shows them), never written into the file."""
    now = now or utcnow()
    batch = await outgoing(session, therapist, start, end, insurance=True)
    practice = await get_practice(session, therapist)
    claims = [await _claim(session, c) for c in batch.ready]
    text = ""
    if claims:
        control = int(now.timestamp()) % 1_000_000_000 or 1
        text = build_837p(Batch(provider_of(practice, therapist), claims, control, now, production))
    add_audit(
        session, actor, "billing.export_837p", object_type="user", object_id=therapist.id,
        detail={"from": start.isoformat(), "to": end.isoformat(),
                "claims": [c.claim_number for c in batch.ready],
                "held": [c.claim_number for c, _ in batch.held]},
    )  # fmt: skip
    return Export(text, batch.ready, batch.held)
