"""The practice's identifiers and billing policies (one profile per therapist)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import PracticeProfile, User
from server.models.practice_profile import DEFAULT_KX_THRESHOLD_CENTS, DEFAULT_LATE_ENTRY_HOURS
from server.services.audit import Actor, add_audit
from server.services.geography import is_state

from .common import TAX_ID, ValidationFailed, npi_is_valid, parse_cents

ZIP = re.compile(r"^[0-9]{5}(-?[0-9]{4})?$")
TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")


@dataclass
class PracticeInput:
    practice_name: str = ""
    billing_npi: str = ""
    rendering_npi: str = ""
    tax_id: str = ""
    taxonomy_code: str = ""
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    submitter_id: str = ""
    receiver_id: str = ""
    receiver_name: str = ""
    kx_threshold: str = ""
    late_entry_hours: str = ""


async def get_practice(session: AsyncSession, therapist: User) -> PracticeProfile:
    """The practice's profile; unsaved defaults when nothing was entered yet."""
    profile = await session.get(PracticeProfile, therapist.id)
    if profile is None:
        profile = PracticeProfile(
            therapist_id=therapist.id, practice_name="", billing_npi="", rendering_npi="",
            tax_id="", taxonomy_code="", address_line="", city="", state="", postal_code="",
            phone="", submitter_id="", receiver_id="", receiver_name="",
            kx_threshold_cents=DEFAULT_KX_THRESHOLD_CENTS,
            late_entry_hours=DEFAULT_LATE_ENTRY_HOURS,
        )  # fmt: skip
    return profile


def practice_input(profile: PracticeProfile) -> PracticeInput:
    data = PracticeInput(
        **{f.name: str(getattr(profile, f.name, "")) for f in fields(PracticeInput)
           if f.name not in ("kx_threshold", "late_entry_hours")},
    )  # fmt: skip
    data.kx_threshold = f"{profile.kx_threshold_cents / 100:.2f}"
    data.late_entry_hours = str(profile.late_entry_hours)
    return data


def _digits(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


async def update_practice(
    session: AsyncSession, therapist: User, data: PracticeInput, actor: Actor
) -> PracticeProfile:
    errors: dict[str, str] = {}
    name = " ".join(data.practice_name.split())[:120]
    if not name:
        errors["practice_name"] = "Enter the practice's name as payers know it."
    billing, rendering = _digits(data.billing_npi), _digits(data.rendering_npi)
    for key, npi in (("billing_npi", billing), ("rendering_npi", rendering)):
        if npi and not npi_is_valid(npi):
            errors[key] = "An NPI is 10 digits with a valid check digit."
    tax_id = _digits(data.tax_id)
    if tax_id and not TAX_ID.match(tax_id):
        errors["tax_id"] = "The tax id (EIN) is 9 digits."
    taxonomy = data.taxonomy_code.strip().upper()
    if taxonomy and not TAXONOMY.match(taxonomy):
        errors["taxonomy_code"] = "A taxonomy code looks like 225X00000X."
    state = data.state.strip().upper()
    if state and not is_state(state):
        errors["state"] = "Choose the state."
    postal = data.postal_code.strip()
    if postal and not ZIP.match(postal):
        errors["postal_code"] = "Enter the ZIP code (ZIP+4 for claims: 62701-1234)."
    threshold = parse_cents(data.kx_threshold or "0")
    if threshold is None:
        errors["kx_threshold"] = "Enter the yearly threshold in dollars, e.g. 2410."
    try:
        late_hours = int(data.late_entry_hours or DEFAULT_LATE_ENTRY_HOURS)
    except ValueError:
        late_hours = -1
    if not 1 <= late_hours <= 24 * 30:
        errors["late_entry_hours"] = "Enter hours from 1 to 720."
    if errors or threshold is None:
        raise ValidationFailed(errors)
    profile = await session.get(PracticeProfile, therapist.id)
    if profile is None:
        profile = PracticeProfile(therapist_id=therapist.id)
        session.add(profile)
    values = {
        "practice_name": name, "billing_npi": billing, "rendering_npi": rendering,
        "tax_id": tax_id, "taxonomy_code": taxonomy,
        "address_line": " ".join(data.address_line.split())[:120],
        "city": " ".join(data.city.split())[:60], "state": state,
        "postal_code": postal.replace("-", "")[:10], "phone": _digits(data.phone)[:20],
        "submitter_id": data.submitter_id.strip()[:15],
        "receiver_id": data.receiver_id.strip()[:15],
        "receiver_name": " ".join(data.receiver_name.split())[:60],
        "kx_threshold_cents": threshold, "late_entry_hours": late_hours,
    }  # fmt: skip
    changed = [k for k, v in values.items() if getattr(profile, k, None) != v]
    for key in changed:
        setattr(profile, key, values[key])
    await session.flush()
    add_audit(
        session, actor, "practice.update", object_type="user", object_id=therapist.id,
        detail={"fields": changed},
    )  # fmt: skip
    return profile
