"""The 837P (ASC X12 005010X222A1, professional claims) of a batch of claims: pure text from
plain values, so the format is testable without a database.

One interchange (ISA/IEA), one functional group (GS/GE), one transaction (ST/SE) holding the
submitter (1000A), receiver (1000B) and one billing provider (2000A/2010AA); under it, per claim,
the subscriber (2000B/2010BA), the payer (2010BB), the patient when it is not the subscriber
(2000C/2010CA: a child on a parent's plan), the claim (2300: CLM, prior authorization, HI
diagnoses), the rendering provider (2310B) and the service lines (2400: LX, SV1, DTP*472).
Separators: segment ~, element *, component :, repetition ^.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

VERSION = "005010X222A1"


@dataclass(frozen=True)
class Person:
    last: str
    first: str
    dob: date | None = None
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(frozen=True)
class ServiceLine:
    code: str
    modifiers: list[str]
    amount_cents: int
    units: int
    pointers: list[int]
    service_date: date


@dataclass(frozen=True)
class Claim:
    claim_number: str
    place_of_service: str
    diagnoses: list[str]  # ICD-10-CM, in order
    lines: list[ServiceLine]
    payer_name: str
    payer_code: str
    filing_code: str  # SBR09: CI, MC, MB, BL
    member_id: str
    group_number: str
    relationship: str  # self | child | other
    subscriber: Person
    patient: Person
    authorization: str = ""

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


@dataclass(frozen=True)
class Provider:
    practice_name: str
    billing_npi: str
    tax_id: str
    taxonomy_code: str
    address_line: str
    city: str
    state: str
    postal_code: str  # ZIP+4, 9 digits
    phone: str
    contact_name: str
    rendering_last: str
    rendering_first: str
    rendering_npi: str
    submitter_id: str
    receiver_id: str
    receiver_name: str


@dataclass(frozen=True)
class Batch:
    provider: Provider
    claims: list[Claim]
    control_number: int  # ISA13 and GS06, 1..999999999
    created_at: datetime
    production: bool = True


def clean(text: str, limit: int = 60) -> str:
    """Text an X12 element can carry: ASCII, no separators, single spaces, within its length."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    for ch in "~*:^":
        ascii_text = ascii_text.replace(ch, " ")
    return " ".join(ascii_text.split())[:limit]


def amount(cents: int) -> str:
    """X12 decimal: no trailing zeros, no point for whole dollars (240, 52.5, 48.25)."""
    whole, part = divmod(cents, 100)
    return str(whole) if part == 0 else f"{whole}.{part:02d}".rstrip("0")


def _segment(*elements: str) -> str:
    parts = list(elements)
    while parts and parts[-1] == "":
        parts.pop()  # trailing empty elements are left off, as the standard requires
    return "*".join(parts) + "~"


def _d8(day: date) -> str:
    return day.strftime("%Y%m%d")


def _address(person: Person) -> list[str]:
    return [
        _segment("N3", clean(person.address_line, 55)),
        _segment("N4", clean(person.city, 30), person.state, person.postal_code),
    ]


def _claim_segments(claim: Claim, provider: Provider, hl: int) -> tuple[list[str], int]:
    """The claim's loops from its subscriber HL; returns them and the next free HL number."""
    out: list[str] = []
    is_self = claim.relationship == "self"
    out.append(_segment("HL", str(hl), "1", "22", "0" if is_self else "1"))
    out.append(
        _segment("SBR", "P", "18" if is_self else "", clean(claim.group_number, 30),
                 "", "", "", "", "", claim.filing_code)
    )  # fmt: skip
    sub = claim.subscriber
    out.append(
        _segment("NM1", "IL", "1", clean(sub.last, 60), clean(sub.first, 35), "", "", "",
                 "MI", clean(claim.member_id, 80))
    )  # fmt: skip
    if is_self:
        out.extend(_address(sub))
        if sub.dob is not None:
            out.append(_segment("DMG", "D8", _d8(sub.dob), "U"))
    out.append(
        _segment("NM1", "PR", "2", clean(claim.payer_name, 60), "", "", "", "", "PI",
                 clean(claim.payer_code, 80))
    )  # fmt: skip
    next_hl = hl + 1
    if not is_self:
        out.append(_segment("HL", str(next_hl), str(hl), "23", "0"))
        out.append(_segment("PAT", "19" if claim.relationship == "child" else "G8"))
        pat = claim.patient
        out.append(_segment("NM1", "QC", "1", clean(pat.last, 60), clean(pat.first, 35)))
        out.extend(_address(pat))
        if pat.dob is not None:
            out.append(_segment("DMG", "D8", _d8(pat.dob), "U"))
        next_hl += 1
    out.append(
        _segment("CLM", clean(claim.claim_number, 38), amount(claim.total_cents), "", "",
                 f"{claim.place_of_service}:B:1", "Y", "A", "Y", "Y")
    )  # fmt: skip
    if claim.authorization:
        out.append(_segment("REF", "G1", clean(claim.authorization, 50)))
    codes = [d.replace(".", "").upper() for d in claim.diagnoses[:12]]
    out.append(_segment("HI", *(f"{'ABK' if i == 0 else 'ABF'}:{c}" for i, c in enumerate(codes))))
    out.append(
        _segment("NM1", "82", "1", clean(provider.rendering_last, 60),
                 clean(provider.rendering_first, 35), "", "", "", "XX", provider.rendering_npi)
    )  # fmt: skip
    if provider.taxonomy_code:
        out.append(_segment("PRV", "PE", "PXC", provider.taxonomy_code))
    for number, line in enumerate(claim.lines, start=1):
        procedure = ":".join(["HC", line.code, *line.modifiers[:4]])
        pointers = ":".join(str(p) for p in line.pointers[:4])
        out.append(_segment("LX", str(number)))
        out.append(
            _segment("SV1", procedure, amount(line.amount_cents), "UN", str(line.units), "", "",
                     pointers)
        )  # fmt: skip
        out.append(_segment("DTP", "472", "D8", _d8(line.service_date)))
    return out, next_hl


def build_837p(batch: Batch) -> str:
    """The interchange as text, one segment per line (a newline after each ~ is allowed)."""
    p, at = batch.provider, batch.created_at
    ctrl = f"{batch.control_number:09d}"
    body: list[str] = [
        _segment("ST", "837", "0001", VERSION),
        _segment("BHT", "0019", "00", ctrl, at.strftime("%Y%m%d"), at.strftime("%H%M"), "CH"),
        _segment("NM1", "41", "2", clean(p.practice_name), "", "", "", "", "46", p.submitter_id),
        _segment("PER", "IC", clean(p.contact_name), "TE", p.phone),
        _segment("NM1", "40", "2", clean(p.receiver_name), "", "", "", "", "46", p.receiver_id),
        _segment("HL", "1", "", "20", "1"),
    ]
    if p.taxonomy_code:
        body.append(_segment("PRV", "BI", "PXC", p.taxonomy_code))
    body += [
        _segment("NM1", "85", "2", clean(p.practice_name), "", "", "", "", "XX", p.billing_npi),
        _segment("N3", clean(p.address_line, 55)),
        _segment("N4", clean(p.city, 30), p.state, p.postal_code),
        _segment("REF", "EI", p.tax_id),
    ]
    hl = 2
    for claim in batch.claims:
        segments, hl = _claim_segments(claim, p, hl)
        body += segments
    body.append(_segment("SE", str(len(body) + 1), "0001"))
    usage = "P" if batch.production else "T"
    header = [
        "ISA*00*          *00*          *ZZ*"
        f"{p.submitter_id:<15.15}*ZZ*{p.receiver_id:<15.15}*{at:%y%m%d}*{at:%H%M}*^*00501*"
        f"{ctrl}*0*{usage}*:~",
        _segment("GS", "HC", p.submitter_id, p.receiver_id, at.strftime("%Y%m%d"),
                 at.strftime("%H%M"), str(batch.control_number), "X", VERSION),
    ]  # fmt: skip
    trailer = [_segment("GE", "1", str(batch.control_number)), _segment("IEA", "1", ctrl)]
    return "\n".join(header + body + trailer) + "\n"
