"""The superbill: a statement of private-pay visits a family can send to their insurer for
out-of-network reimbursement. A PDF made with reportlab (BSD-licensed, pure Python, the
long-standing PDF toolkit of the ecosystem): its tables page long statements by themselves.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Charge, Client, PracticeProfile, User
from server.services.audit import Actor, add_audit
from server.services.documentation.procedures import CATALOG

from .checks import Problem
from .claims import outgoing
from .common import dollars
from .practice import get_practice
from .rules import POS_LABELS


@dataclass
class Superbill:
    pdf: bytes
    charges: list[Charge]
    held: list[tuple[Charge, list[Problem]]]

    @property
    def total_cents(self) -> int:
        return sum(c.total_cents for c in self.charges)


def _phone(digits: str) -> str:
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else digits


def _practice_lines(practice: PracticeProfile, therapist: User) -> list[str]:
    zip_code = practice.postal_code
    if len(zip_code) == 9:
        zip_code = f"{zip_code[:5]}-{zip_code[5:]}"
    return [
        f"<b>{practice.practice_name or therapist.name}</b>",
        f"{practice.address_line}, {practice.city}, {practice.state} {zip_code}",
        f"Phone {_phone(practice.phone)} · Tax ID {practice.tax_id} · NPI {practice.billing_npi}",
        f"Rendering provider: {therapist.name} · NPI {practice.rendering_npi}"
        + (f" · Taxonomy {practice.taxonomy_code}" if practice.taxonomy_code else ""),
    ]


def render_superbill(
    practice: PracticeProfile,
    therapist: User,
    client: Client,
    charges: list[Charge],
    start: date,
    end: date,
) -> bytes:
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["Normal"]
    cell = ParagraphStyle("cell", parent=small, fontSize=8, leading=9.5)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=LETTER, title=f"Superbill {client.full_name} {start}-{end}",
        author=practice.practice_name or therapist.name, leftMargin=0.7 * inch,
        rightMargin=0.7 * inch, topMargin=0.7 * inch, bottomMargin=0.7 * inch,
    )  # fmt: skip
    story: list[Flowable] = [Paragraph("Superbill (statement for insurance reimbursement)",
                                     styles["Title"])]  # fmt: skip
    story += [Paragraph(line, body) for line in _practice_lines(practice, therapist)]
    story.append(Spacer(1, 10))
    payer = client.caregivers[0] if client.caregivers else None
    story += [
        Paragraph(f"<b>Patient:</b> {client.full_name} · DOB {client.date_of_birth:%m/%d/%Y}",
                  body),
        Paragraph(f"<b>Address:</b> {client.address_line}, {client.city}, {client.home_state} "
                  f"{client.postal_code}", body),
        Paragraph(f"<b>Responsible party:</b> {payer.name} ({payer.relationship_to_client})"
                  if payer else "<b>Responsible party:</b> self", body),
        Paragraph(f"<b>Dates of service:</b> {start:%m/%d/%Y} to {end:%m/%d/%Y}", body),
    ]  # fmt: skip
    diagnoses: list[str] = []
    for charge in charges:
        for d in charge.diagnoses:
            if d["code"] not in diagnoses:
                diagnoses.append(d["code"])
    texts = {d["code"]: d["description"] for c in charges for d in c.diagnoses}
    story.append(Spacer(1, 8))
    story.append(Paragraph("<b>Diagnoses (ICD-10-CM)</b>", body))
    story += [Paragraph(f"{i}. {code} {texts[code]}", small) for i, code in
              enumerate(diagnoses, start=1)]  # fmt: skip
    story.append(Spacer(1, 8))
    header = ["Date", "POS", "CPT", "Description", "Modifiers", "Dx", "Units", "Fee", "Amount"]
    rows: list[list[str | Paragraph]] = [list(header)]
    for charge in charges:
        codes = [d["code"] for d in charge.diagnoses]
        for line in charge.lines:
            pointers = " ".join(
                str(diagnoses.index(codes[p - 1]) + 1) for p in line.diagnosis_pointers
                if p <= len(codes)
            )  # fmt: skip
            label = CATALOG[line.code].label if line.code in CATALOG else ""
            rows.append([
                f"{charge.service_date:%m/%d/%Y}", charge.place_of_service, line.code,
                Paragraph(label, cell), " ".join(line.modifiers), pointers, str(line.units),
                dollars(line.unit_fee_cents), dollars(line.amount_cents),
            ])  # fmt: skip
    total = sum(c.total_cents for c in charges)
    rows.append(["", "", "", "Total charges", "", "", "", "", dollars(total)])
    widths = [0.8, 0.4, 0.5, 2.1, 0.75, 0.4, 0.45, 0.7, 0.75]
    table = Table(rows, repeatRows=1, hAlign="LEFT", colWidths=[w * inch for w in widths])
    table.setStyle(
        TableStyle([
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
            ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
            ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
            ("ALIGN", (6, 0), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ])
    )  # fmt: skip
    story.append(table)
    story.append(Spacer(1, 10))
    used = sorted({c.place_of_service for c in charges})
    story.append(Paragraph("Place of service: " + "; ".join(
        f"{pos} {POS_LABELS.get(pos, '')}" for pos in used), small))  # fmt: skip
    story.append(Spacer(1, 24))
    story.append(Paragraph(f"Provider signature: ______________________  {therapist.name}", body))
    doc.build(story)
    return buffer.getvalue()


async def make_superbill(
    session: AsyncSession, therapist: User, client: Client, start: date, end: date, actor: Actor
) -> Superbill:
    """The client's private-pay visits in the range that are ready; held ones are returned."""
    batch = await outgoing(session, therapist, start, end, insurance=False, client_id=client.id)
    practice = await get_practice(session, therapist)
    pdf = render_superbill(practice, therapist, client, batch.ready, start, end)
    add_audit(
        session, actor, "billing.superbill", object_type="client", object_id=client.id,
        detail={"from": start.isoformat(), "to": end.isoformat(),
                "charges": [c.claim_number for c in batch.ready],
                "held": [c.claim_number for c, _ in batch.held]},
    )  # fmt: skip
    return Superbill(pdf, batch.ready, batch.held)
