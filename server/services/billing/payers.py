"""Payers with their telehealth rules, and the fee schedule per code and mode."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import FeeScheduleEntry, Payer, User
from server.services.audit import Actor, add_audit
from server.services.documentation.procedures import CATALOG

from .common import NO_PAYER, NotFound, ValidationFailed, as_uuid, parse_cents
from .rules import TELEHEALTH_MODIFIERS, PayerRule, PosRule

RATE_RULES = {"parity": "Same fee as in person (parity)", "separate": "Its own telehealth fee"}
# SBR09, the claim filing indicator: what kind of plan the payer is.
FILING_CODES = {"CI": "Commercial", "MC": "Medicaid", "MB": "Medicare Part B", "BL": "Blue Cross"}


@dataclass
class PayerInput:
    name: str = ""
    payer_code: str = ""
    telehealth_modifier: str = "95"
    pos_rule: str = "cms"
    rate_rule: str = "parity"
    claim_filing_code: str = "CI"
    applies_kx: bool = False
    requires_authorization: bool = False


def payer_rule(payer: Payer | None) -> PayerRule | None:
    """The payer's telehealth rule (None: private pay, which the caller decides about)."""
    if payer is None:
        return None
    return PayerRule(payer.telehealth_modifier, PosRule(payer.pos_rule))


async def list_payers(session: AsyncSession, therapist: User) -> list[Payer]:
    rows = await session.scalars(
        select(Payer)
        .where(Payer.therapist_id == therapist.id, Payer.archived_at.is_(None))
        .order_by(Payer.name)
    )
    return list(rows)


async def get_payer(session: AsyncSession, therapist: User, payer_id: object) -> Payer:
    payer = await session.get(Payer, as_uuid(payer_id, NO_PAYER))
    if payer is None or payer.therapist_id != therapist.id:
        raise NotFound(NO_PAYER)
    return payer


async def add_payer(
    session: AsyncSession, therapist: User, data: PayerInput, actor: Actor
) -> Payer:
    errors: dict[str, str] = {}
    name, code = " ".join(data.name.split())[:60], data.payer_code.strip().upper()[:20]
    if not name:
        errors["name"] = "Name the payer."
    if not code or not code.isalnum():
        errors["payer_code"] = "Enter the payer's electronic id (letters and digits)."
    if data.telehealth_modifier not in TELEHEALTH_MODIFIERS:
        errors["telehealth_modifier"] = "Choose 95, GT or none."
    if data.pos_rule not in PosRule.__members__:
        errors["pos_rule"] = "Choose the payer's place-of-service rule."
    if data.rate_rule not in RATE_RULES:
        errors["rate_rule"] = "Choose parity or a separate telehealth fee."
    if data.claim_filing_code not in FILING_CODES:
        errors["claim_filing_code"] = "Choose the kind of plan."
    if errors:
        raise ValidationFailed(errors)
    payer = Payer(
        therapist_id=therapist.id, name=name, payer_code=code,
        telehealth_modifier=data.telehealth_modifier, pos_rule=data.pos_rule,
        rate_rule=data.rate_rule, claim_filing_code=data.claim_filing_code,
        applies_kx=data.applies_kx, requires_authorization=data.requires_authorization,
    )  # fmt: skip
    session.add(payer)
    await session.flush()
    add_audit(
        session, actor, "payer.add", object_type="payer", object_id=payer.id,
        detail={"name": name, "payer_code": code},
    )  # fmt: skip
    return payer


async def list_fees(session: AsyncSession, therapist: User) -> list[FeeScheduleEntry]:
    rows = await session.scalars(
        select(FeeScheduleEntry)
        .where(FeeScheduleEntry.therapist_id == therapist.id)
        .order_by(FeeScheduleEntry.code, FeeScheduleEntry.mode)
    )
    return list(rows)


async def set_fee(
    session: AsyncSession,
    therapist: User,
    *,
    code: str,
    mode: str | None,
    amount: str,
    actor: Actor,
    payer_id: str | None = None,
) -> FeeScheduleEntry:
    """Upserts the fee per unit of a code (for a payer, or the practice's own)."""
    errors: dict[str, str] = {}
    if code not in CATALOG:
        errors["code"] = "Choose a procedure code."
    mode = mode or None
    if mode not in (None, "in_person", "telehealth"):
        errors["mode"] = "Choose in person, telehealth, or both."
    cents = parse_cents(amount)
    if cents is None:
        errors["amount"] = "Enter the fee per unit in dollars, e.g. 48 or 52.50."
    payer: Payer | None = None
    if payer_id:
        payer = await get_payer(session, therapist, payer_id)
    if errors or cents is None:
        raise ValidationFailed(errors)
    pid = payer.id if payer else None
    row = await session.scalar(
        select(FeeScheduleEntry).where(
            FeeScheduleEntry.therapist_id == therapist.id,
            FeeScheduleEntry.code == code,
            FeeScheduleEntry.payer_id.is_(None)
            if pid is None
            else FeeScheduleEntry.payer_id == pid,
            FeeScheduleEntry.mode.is_(None) if mode is None else FeeScheduleEntry.mode == mode,
        )
    )
    before = row.amount_cents if row else None
    if row is None:
        row = FeeScheduleEntry(therapist_id=therapist.id, payer_id=pid, code=code, mode=mode)
        session.add(row)
    row.amount_cents = cents
    await session.flush()
    add_audit(
        session, actor, "fee.set", object_type="fee", object_id=row.id,
        detail={"code": code, "mode": mode, "payer_id": str(pid) if pid else None,
                "from": before, "to": cents},
    )  # fmt: skip
    return row


def fee_for(fees: list[FeeScheduleEntry], payer: Payer | None, code: str, mode: str) -> int | None:
    """The fee per unit: the payer's own schedule first, then the practice's. Telehealth under
    a parity payer is priced as in person; under a separate rate, its telehealth fee if any."""
    if payer is not None and payer.rate_rule == "parity":
        mode = "in_person"
    wanted_payers: list[uuid.UUID | None] = [payer.id] if payer is not None else []
    wanted_payers.append(None)
    for pid in wanted_payers:
        rows = {f.mode: f.amount_cents for f in fees if f.code == code and f.payer_id == pid}
        if mode in rows:
            return rows[mode]
        if None in rows:
            return rows[None]
    return None
