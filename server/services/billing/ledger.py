"""The accountants' CSV: every confirmed line in a date range, reversals as negative lines, with
who pays and any flag, so the books and the claims can be reconciled."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import User
from server.services.audit import Actor, add_audit
from server.services.clients import list_client_names

from .charges import list_charges, reversed_ids
from .checks import charge_problems
from .payers import list_payers
from .practice import get_practice

COLUMNS = [
    "date_of_service", "claim_number", "kind", "status", "client", "payer", "member_id",
    "mode", "place_of_service", "line", "cpt", "modifiers", "units", "unit_fee", "amount",
    "diagnoses", "confirmed_at", "reverses", "flags",
]  # fmt: skip


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


async def ledger_csv(
    session: AsyncSession, therapist: User, start: date, end: date, actor: Actor
) -> str:
    charges = [
        c for c in await list_charges(session, therapist, start, end, None) if c.is_confirmed
    ]
    names = await list_client_names(session, {c.client_id for c in charges})
    payers = {p.id: p.name for p in await list_payers(session, therapist)}
    claim_numbers = {c.id: c.claim_number for c in charges}
    gone = await reversed_ids(session, [c.id for c in charges])
    practice = await get_practice(session, therapist)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for charge in charges:
        flags = []
        if charge.kind == "charge":
            flags = [p.message for p in await charge_problems(session, charge, practice)]
            if charge.id in gone:
                flags.insert(0, "Reversed (corrected)")
        for line in charge.lines:
            writer.writerow([
                charge.service_date.isoformat(), charge.claim_number, charge.kind, charge.status,
                names.get(charge.client_id, ""),
                payers.get(charge.payer_id, "?") if charge.payer_id else "Private pay",
                charge.member_id, charge.mode, charge.place_of_service, line.line_number,
                line.code, " ".join(line.modifiers), line.units, _money(line.unit_fee_cents),
                _money(line.amount_cents), " ".join(d["code"] for d in charge.diagnoses),
                charge.confirmed_at.isoformat() if charge.confirmed_at else "",
                claim_numbers.get(charge.reverses_id, "") if charge.reverses_id else "",
                "; ".join(flags),
            ])  # fmt: skip
    add_audit(
        session, actor, "billing.export_csv", object_type="user", object_id=therapist.id,
        detail={"from": start.isoformat(), "to": end.isoformat(), "charges": len(charges)},
    )  # fmt: skip
    return out.getvalue()
