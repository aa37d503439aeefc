"""Corrections of confirmed charges: never an edit. A reversal (the same lines with negative
units and amounts, confirmed at once) and a replacement proposed for review; the original
stays as it was."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import new_id, utcnow
from server.models import Charge, ChargeLine, Note, User
from server.services.audit import Actor, add_audit

from .charges import build_charge, charge_refusal, claim_number_for, reversed_ids
from .common import ChargeConfirmed, NotYours, ValidationFailed


async def correct_charge(
    session: AsyncSession, user: User, charge: Charge, reason: str, actor: Actor
) -> tuple[Charge, Charge]:
    """Reverses a confirmed charge (negative lines, confirmed at once) and proposes its
    replacement, made again from the note, for review. Returns (reversal, replacement)."""
    if charge.therapist_id != user.id:
        raise NotYours(
            "Only the practice's therapist may correct this charge.",
            refusal=charge_refusal(actor, "correct", charge, "not_owner"),
        )
    reason = " ".join(reason.split())[:300]
    if not reason:
        raise ValidationFailed({"reason": "Say why the charge is corrected."})
    if not charge.is_confirmed or charge.kind != "charge":
        raise ChargeConfirmed(
            "Only a confirmed charge is corrected; edit a proposed one.",
            refusal=charge_refusal(actor, "correct", charge, "not_confirmed"),
        )
    if charge.id in await reversed_ids(session, [charge.id]):
        raise ChargeConfirmed(
            "This charge was already corrected.",
            refusal=charge_refusal(actor, "correct", charge, "already_corrected"),
        )
    reversal = await _derived(
        session, charge, kind="reversal", sign=-1, reverses_id=charge.id, reason=reason
    )
    # Lines first, then the lock: a confirmed charge takes no new lines.
    reversal.status, reversal.confirmed_at = "confirmed", utcnow()
    reversal.confirmed_by_id = user.id
    await session.flush()
    await session.refresh(reversal, ["lines"])
    note = await session.get(Note, charge.note_id) if charge.note_id else None
    if note is not None:
        replacement = await build_charge(session, user, note, replaces=charge)
    else:
        replacement = await _derived(session, charge, kind="charge", sign=1, replaces_id=charge.id)
    add_audit(
        session, actor, "charge.correct", object_type="charge", object_id=charge.id,
        detail={"reason": reason, "reversal_id": str(reversal.id),
                "replacement_id": str(replacement.id)},
    )  # fmt: skip
    return reversal, replacement


async def _derived(
    session: AsyncSession,
    charge: Charge,
    *,
    kind: str,
    sign: int,
    reverses_id: uuid.UUID | None = None,
    replaces_id: uuid.UUID | None = None,
    reason: str = "",
) -> Charge:
    """A new proposed charge with the original's facts and lines, amounts times ``sign``: the
    reversal (-1), or the replacement of a charge that has no note to be made again from (1)."""
    new = new_id()
    derived = Charge(
        id=new, therapist_id=charge.therapist_id, client_id=charge.client_id,
        note_id=charge.note_id if kind == "reversal" else None, payer_id=charge.payer_id,
        member_id=charge.member_id, kind=kind, status="proposed", reverses_id=reverses_id,
        replaces_id=replaces_id, correction_reason=reason, claim_number=claim_number_for(new),
        service_date=charge.service_date, mode=charge.mode,
        place_of_service=charge.place_of_service, discipline=charge.discipline,
        diagnoses=charge.diagnoses, timed_minutes=charge.timed_minutes,
        treatment_minutes=charge.treatment_minutes, total_cents=sign * charge.total_cents,
        created_at=utcnow(), lines=[],
    )  # fmt: skip
    session.add(derived)
    await session.flush()
    for line in charge.lines:
        session.add(
            ChargeLine(
                charge_id=derived.id,
                line_number=line.line_number,
                code=line.code,
                modifiers=list(line.modifiers),
                minutes=line.minutes,
                units=sign * line.units,
                unit_fee_cents=line.unit_fee_cents,
                amount_cents=sign * line.amount_cents,
                diagnosis_pointers=list(line.diagnosis_pointers),
            )
        )
    await session.flush()
    await session.refresh(derived, ["lines"])
    return derived
