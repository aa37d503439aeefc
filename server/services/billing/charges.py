"""Charges from signed notes: proposed on signing, reviewed, confirmed (then locked), and
corrected by a reversal and a replacement. Every read and change is audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import new_id, utcnow
from server.models import Appointment, Charge, ChargeLine, Diagnosis, Note, Payer, User
from server.services.audit import Actor, add_audit
from server.services.documentation.notes import note_discipline
from server.services.documentation.procedures import CATALOG
from server.services.errors import AccessRefusal, not_found_for, owned_id

from .common import NO_CHARGE, ChargeConfirmed, NotYours, ValidationFailed
from .coverage import active_coverage
from .payers import fee_for, list_fees, payer_rule
from .practice import get_practice
from .rules import PRIVATE_PAY, Visit, modifiers, place_of_service
from .units import assign_units

MAX_DIAGNOSES = 12  # an 837P's HI segment holds 12
MAX_POINTERS = 4  # a service line points at 4 of them


@dataclass
class LineEdit:
    """A reviewer's change to a proposed line: units (0 removes it) and modifiers."""

    line_id: str
    units: str
    modifiers: str


def claim_number_for(charge_id: uuid.UUID) -> str:
    return f"TD{charge_id.hex[:16].upper()}"


async def _diagnoses(session: AsyncSession, client_id: uuid.UUID) -> list[dict[str, str]]:
    rows = await session.scalars(
        select(Diagnosis)
        .where(Diagnosis.client_id == client_id, Diagnosis.removed_at.is_(None))
        .order_by(Diagnosis.is_primary.desc(), Diagnosis.created_at)
    )
    return [{"code": d.code, "description": d.description} for d in rows][:MAX_DIAGNOSES]


def _minutes(note: Note) -> int | None:
    if note.time_in is None or note.time_out is None:
        return None
    return int((note.time_out - note.time_in).total_seconds() // 60)


# Medicare's therapy threshold counts PT and speech together and OT on its own.
THRESHOLD_GROUPS = {"pt": ("pt", "slp"), "slp": ("pt", "slp"), "ot": ("ot",)}


async def year_to_date_cents(
    session: AsyncSession,
    client_id: uuid.UUID,
    payer_id: uuid.UUID,
    before: date,
    discipline: str | None,
) -> int:
    """What the client's confirmed charges to a payer add up to this calendar year before a
    date, in the discipline's threshold group (reversals count negative, so a corrected charge
    counts once)."""
    query = select(func.coalesce(func.sum(Charge.total_cents), 0)).where(
        Charge.client_id == client_id,
        Charge.payer_id == payer_id,
        Charge.status == "confirmed",
        Charge.service_date >= date(before.year, 1, 1),
        Charge.service_date < before,
    )
    if discipline in THRESHOLD_GROUPS:
        query = query.where(Charge.discipline.in_(THRESHOLD_GROUPS[discipline]))
    return int(await session.scalar(query) or 0)


async def charges_for_note(session: AsyncSession, note_id: uuid.UUID) -> list[Charge]:
    rows = await session.scalars(
        select(Charge).where(Charge.note_id == note_id).order_by(Charge.created_at)
    )
    return list(rows)


async def reversed_ids(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    rows = await session.scalars(select(Charge.reverses_id).where(Charge.reverses_id.in_(ids)))
    return {r for r in rows if r is not None}


async def charge_of_note(session: AsyncSession, note_id: uuid.UUID, actor: Actor) -> Charge | None:
    """The charge standing for a note's visit (proposed or confirmed), if any: the note page
    shows it, and that read of a financial record is audited."""
    charges = await charges_for_note(session, note_id)
    charge = current_charge(charges, await reversed_ids(session, [c.id for c in charges]))
    if charge is not None:
        add_audit(
            session, actor, "charge.read", object_type="charge", object_id=charge.id,
            detail={"via": "note"},
        )  # fmt: skip
    return charge


def current_charge(charges: list[Charge], reversed_: set[uuid.UUID]) -> Charge | None:
    """The charge that stands for a visit: the latest that is not a reversal and not reversed."""
    standing = [c for c in charges if c.kind == "charge" and c.id not in reversed_]
    return standing[-1] if standing else None


async def build_charge(
    session: AsyncSession, therapist: User, note: Note, *, replaces: Charge | None = None
) -> Charge:
    appt = await session.get(Appointment, note.appointment_id) if note.appointment_id else None
    discipline = await note_discipline(session, note)
    coverage = await active_coverage(session, note.client_id, note.service_date)
    payer = await session.get(Payer, coverage.payer_id) if coverage else None
    rule = payer_rule(payer) or PRIVATE_PAY
    place = appt.location.kind if appt is not None and appt.location is not None else "clinic"
    visit = Visit(note.mode, place, note.client_at_home, note.modality)
    timed = [
        (p["code"], int(p["minutes"] or 0))
        for p in note.procedures
        if p["code"] in CATALOG and CATALOG[p["code"]].timed
    ]
    units = assign_units(timed)
    fees = await list_fees(session, therapist)
    diagnoses = await _diagnoses(session, note.client_id)
    pointers = list(range(1, min(len(diagnoses), MAX_POINTERS) + 1))
    charge_id = new_id()
    charge = Charge(
        id=charge_id, therapist_id=therapist.id, client_id=note.client_id, note_id=note.id,
        payer_id=payer.id if payer else None, member_id=coverage.member_id if coverage else "",
        kind="charge", status="proposed", claim_number=claim_number_for(charge_id),
        service_date=note.service_date, mode=note.mode,
        place_of_service=place_of_service(visit, rule), discipline=discipline,
        diagnoses=diagnoses, timed_minutes=units.total_minutes,
        treatment_minutes=_minutes(note), replaces_id=replaces.id if replaces else None,
        correction_reason="", created_at=utcnow(), lines=[],
    )  # fmt: skip
    lines: list[ChargeLine] = []
    for proc in note.procedures:
        code = proc["code"]
        if code not in CATALOG:
            continue
        count = units.by_code.get(code, 0) if CATALOG[code].timed else 1
        if count <= 0:
            continue  # under 8 minutes in all, or its minutes went to another code's unit
        fee = fee_for(fees, payer, code, note.mode) or 0
        lines.append(
            ChargeLine(
                line_number=len(lines) + 1,
                code=code,
                minutes=proc.get("minutes"),
                units=count,
                unit_fee_cents=fee,
                amount_cents=fee * count,
                modifiers=modifiers(visit, rule, discipline, kx=False),
                diagnosis_pointers=pointers,
            )
        )
    charge.total_cents = sum(line.amount_cents for line in lines)
    if payer is not None and payer.applies_kx:
        practice = await get_practice(session, therapist)
        before = await year_to_date_cents(
            session, note.client_id, payer.id, note.service_date, discipline
        )
        if before + charge.total_cents > practice.kx_threshold_cents:
            for line in lines:
                line.modifiers = modifiers(visit, rule, discipline, kx=True)
    session.add(charge)
    await session.flush()
    for line in lines:
        line.charge_id = charge.id
        session.add(line)
    await session.flush()
    await session.refresh(charge, ["lines"])
    return charge


async def propose_charge(
    session: AsyncSession, therapist: User, note: Note, actor: Actor
) -> Charge | None:
    """The charge a signed progress note proposes (None: nothing to bill on it). A proposed
    charge not yet confirmed is made again from the note; a confirmed one stands."""
    if note.note_type != "progress_note" or not note.procedures:
        return None
    existing = await charges_for_note(session, note.id)
    standing = current_charge(existing, await reversed_ids(session, [c.id for c in existing]))
    if standing is not None and standing.is_confirmed:
        return standing
    if standing is not None:
        for line in list(standing.lines):
            await session.delete(line)
        await session.delete(standing)
        await session.flush()
    charge = await build_charge(session, therapist, note)
    add_audit(
        session, actor, "charge.propose", object_type="charge", object_id=charge.id,
        detail={"note_id": str(note.id), "total_cents": charge.total_cents,
                "lines": [[ln.code, ln.units, ln.modifiers] for ln in charge.lines]},
    )  # fmt: skip
    return charge


async def get_charge_for(
    session: AsyncSession, user: User, charge_id: object, actor: Actor
) -> Charge:
    cid = owned_id(charge_id, NO_CHARGE, actor, "charge.read", "charge")
    charge = await session.get(Charge, cid)
    if charge is None or (charge.therapist_id != user.id and not user.is_admin):
        raise not_found_for(NO_CHARGE, actor, "charge.read", "charge", cid, exists=bool(charge))
    add_audit(session, actor, "charge.read", object_type="charge", object_id=charge.id)
    return charge


def charge_refusal(actor: Actor, action: str, charge: Charge, reason: str) -> AccessRefusal:
    """A refused change of a financial record: the HTTP error handler audits it, once."""
    return AccessRefusal(actor, f"charge.{action}", "charge", str(charge.id), reason)


def _refuse_unless_proposed(charge: Charge, user: User, action: str, actor: Actor) -> None:
    if charge.is_confirmed:
        raise ChargeConfirmed(
            "This charge is confirmed; correct it instead (reverse and replace).",
            refusal=charge_refusal(actor, action, charge, "confirmed"),
        )
    if charge.therapist_id != user.id:
        raise NotYours(
            f"Only the practice's therapist may {action} this charge.",
            refusal=charge_refusal(actor, action, charge, "not_owner"),
        )


async def update_lines(
    session: AsyncSession, user: User, charge: Charge, edits: list[LineEdit], actor: Actor
) -> Charge:
    _refuse_unless_proposed(charge, user, "update", actor)
    errors: dict[str, str] = {}
    by_id = {str(line.id): line for line in charge.lines}
    changes: list[tuple[ChargeLine, int, list[str]]] = []
    for edit in edits:
        line = by_id.get(edit.line_id)
        if line is None:
            continue
        try:
            units = int(edit.units)
        except ValueError:
            units = -1
        if not 0 <= units <= 96:
            errors[f"units-{edit.line_id}"] = "Enter the units (0 removes the line)."
        mods = [m for m in edit.modifiers.upper().replace(",", " ").split() if m]
        if len(mods) > 4 or any(len(m) != 2 or not m.isalnum() for m in mods):
            errors[f"modifiers-{edit.line_id}"] = "Up to four two-character modifiers."
        changes.append((line, units, mods))
    if errors:
        raise ValidationFailed(errors)
    for line, units, mods in changes:
        if units == 0:
            await session.delete(line)
            continue
        line.units, line.modifiers = units, mods
        line.amount_cents = line.unit_fee_cents * units
    await session.flush()
    await session.refresh(charge, ["lines"])
    for number, line in enumerate(charge.lines, start=1):
        line.line_number = number
    charge.total_cents = sum(line.amount_cents for line in charge.lines)
    await session.flush()
    add_audit(
        session, actor, "charge.update", object_type="charge", object_id=charge.id,
        detail={"lines": [[ln.code, ln.units, ln.modifiers] for ln in charge.lines]},
    )  # fmt: skip
    return charge


async def confirm_charge(
    session: AsyncSession, user: User, charge: Charge, actor: Actor, *, now: datetime | None = None
) -> Charge:
    _refuse_unless_proposed(charge, user, "confirm", actor)
    if not charge.lines:
        raise ValidationFailed({"lines": "A charge needs at least one line to be confirmed."})
    charge.status = "confirmed"
    charge.confirmed_at = now or utcnow()
    charge.confirmed_by_id = user.id
    await session.flush()
    add_audit(
        session, actor, "charge.confirm", object_type="charge", object_id=charge.id,
        detail={"total_cents": charge.total_cents, "claim_number": charge.claim_number},
    )  # fmt: skip
    return charge


async def list_charges(
    session: AsyncSession, therapist: User, start: date, end: date, actor: Actor | None
) -> list[Charge]:
    """Every charge (reversals too) with a date of service in [start, end]."""
    rows = list(
        await session.scalars(
            select(Charge)
            .where(
                Charge.therapist_id == therapist.id,
                Charge.service_date >= start,
                Charge.service_date <= end,
            )
            .order_by(Charge.service_date, Charge.created_at)
        )
    )
    if actor is not None:
        add_audit(
            session, actor, "charge.list", object_type="user", object_id=therapist.id,
            detail={"from": start.isoformat(), "to": end.isoformat(), "count": len(rows)},
        )  # fmt: skip
    return rows


async def standing_charges(
    session: AsyncSession, therapist: User, start: date, end: date
) -> list[Charge]:
    """Confirmed charges in the range that stand (not reversed): what is owed."""
    rows = await list_charges(session, therapist, start, end, None)
    gone = await reversed_ids(session, [c.id for c in rows])
    return [c for c in rows if c.kind == "charge" and c.is_confirmed and c.id not in gone]
