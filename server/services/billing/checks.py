"""Checks before money leaves: what stops a charge from going out on a claim or a superbill.

A flagged charge is listed with its reasons and left out of the 837P and the superbill; the
accountants' CSV (a ledger, not a bill) carries every confirmed line with its flags.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Charge, Client, ClientCoverage, Note, Payer, PlanOfCare, PracticeProfile
from server.services.documentation.plans import active_plan
from server.services.documentation.procedures import CATALOG

from .common import TAX_ID, npi_is_valid
from .consent import telehealth_consent_on_file
from .coverage import authorization_on


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


async def _plan_for(session: AsyncSession, charge: Charge, note: Note | None) -> PlanOfCare | None:
    if note is not None and note.plan_id is not None:
        return await session.get(PlanOfCare, note.plan_id)
    return await active_plan(session, charge.client_id)


async def _visits_used(session: AsyncSession, charge: Charge, start: object) -> int:
    """Standing confirmed charges to the payer from the authorization's start up to this one's
    date, this one included."""
    rows = list(
        await session.scalars(
            select(Charge).where(
                Charge.client_id == charge.client_id,
                Charge.payer_id == charge.payer_id,
                Charge.status == "confirmed",
                Charge.service_date >= start,
                Charge.service_date <= charge.service_date,
            )
        )
    )
    reversed_ = {c.reverses_id for c in rows if c.reverses_id is not None}
    counted = {c.id for c in rows if c.kind == "charge" and c.id not in reversed_}
    return len(counted | {charge.id})


def identifier_problems(
    practice: PracticeProfile, payer: Payer, member_id: str, client: Client
) -> list[Problem]:
    """What a claim cannot go without: valid NPIs, the tax id, payer and member ids, addresses."""
    found = []
    if not npi_is_valid(practice.billing_npi) or not npi_is_valid(practice.rendering_npi):
        found.append(Problem("identifiers", "The practice's billing or rendering NPI is missing."))
    if not TAX_ID.match(practice.tax_id):
        found.append(Problem("identifiers", "The practice's tax id is missing."))
    if not (practice.address_line and practice.city and practice.state and practice.postal_code):
        found.append(Problem("identifiers", "The practice's address is incomplete."))
    if len(practice.postal_code) != 9:
        found.append(Problem("identifiers", "A claim needs the practice's ZIP+4 (9 digits)."))
    if not (practice.submitter_id and practice.receiver_id):
        found.append(
            Problem("identifiers", "The clearinghouse ids (submitter, receiver) are missing.")
        )
    if not payer.payer_code:
        found.append(Problem("identifiers", f"{payer.name} has no payer id."))
    if not member_id:
        found.append(Problem("identifiers", "The client's member id is missing."))
    if not (client.address_line and client.city and client.postal_code):
        found.append(Problem("identifiers", "The client's address is incomplete."))
    return found


async def charge_problems(
    session: AsyncSession, charge: Charge, practice: PracticeProfile | None = None
) -> list[Problem]:
    found: list[Problem] = []
    note = await session.get(Note, charge.note_id) if charge.note_id else None
    if note is None or not note.is_signed:
        found.append(Problem("unsigned_note", "There is no signed note for this charge."))
    if not charge.lines:
        found.append(Problem("no_lines", "The charge has no lines."))
    if any(line.unit_fee_cents <= 0 for line in charge.lines):
        found.append(Problem("no_fee", "A line has no fee: add the code to the fee schedule."))
    if charge.mode == "telehealth":
        if not await telehealth_consent_on_file(session, charge.client_id, charge.service_date):
            found.append(Problem("telehealth_consent", "No telehealth consent is on file."))
        if note is not None and note.client_at_home is None:
            found.append(
                Problem("client_location", "The note does not say whether the client was at home.")
            )
    plan = await _plan_for(session, charge, note)
    covered = set(plan.procedure_codes) if plan is not None else set()
    missing = [
        line.code
        for line in charge.lines
        if line.code not in covered and not (line.code in CATALOG and CATALOG[line.code].evaluation)
    ]
    if missing:
        where = "the plan of care" if plan is not None else "a plan of care (there is none)"
        found.append(Problem("plan_codes", f"Not covered by {where}: {', '.join(missing)}."))
    if charge.payer_id is not None:
        found.extend(await _insurance_problems(session, charge, practice))
    return found


async def _insurance_problems(
    session: AsyncSession, charge: Charge, practice: PracticeProfile | None
) -> list[Problem]:
    found: list[Problem] = []
    payer = await session.get(Payer, charge.payer_id)
    assert payer is not None  # a charge's payer is kept (RESTRICT)
    auth = await authorization_on(session, charge.client_id, payer.id, charge.service_date)
    if auth is None and payer.requires_authorization:
        found.append(
            Problem("authorization", f"{payer.name} requires an authorization; none covers "
                    f"{charge.service_date.isoformat()}.")
        )  # fmt: skip
    elif auth is not None:
        used = await _visits_used(session, charge, auth.starts_on)
        if used > auth.visits_allowed:
            found.append(
                Problem("authorization", f"Out of authorized visits: this is visit {used} of "
                        f"{auth.visits_allowed} (authorization {auth.number}).")
            )  # fmt: skip
    client = await session.get(Client, charge.client_id)
    if practice is not None and client is not None:
        found.extend(identifier_problems(practice, payer, charge.member_id, client))
    return found


async def subscriber_of(session: AsyncSession, charge: Charge) -> ClientCoverage | None:
    """The coverage the charge bills (its payer and member id), for the subscriber's details."""
    return await session.scalar(
        select(ClientCoverage)
        .where(
            ClientCoverage.client_id == charge.client_id,
            ClientCoverage.payer_id == charge.payer_id,
            ClientCoverage.member_id == charge.member_id,
        )
        .order_by(ClientCoverage.starts_on.desc())
        .limit(1)
    )


async def problems_by_charge(
    session: AsyncSession, charges: list[Charge], practice: PracticeProfile | None = None
) -> dict[uuid.UUID, list[Problem]]:
    return {c.id: await charge_problems(session, c, practice) for c in charges}
