"""Clients (the children) and their caregivers, owned by one therapist."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Caregiver, Client, User
from server.services.audit import Actor, add_audit
from server.services.errors import ValidationFailed, not_found_for, owned_id
from server.services.geography import is_state, is_time_zone

MAX_CAREGIVERS = 6
NO_CLIENT = "No such client in your caseload."


@dataclass
class CaregiverInput:
    name: str = ""
    relationship: str = ""
    email: str = ""
    phone: str = ""

    @property
    def is_blank(self) -> bool:
        return not (self.name or self.relationship or self.email or self.phone)


@dataclass
class AddressInput:
    line: str = ""
    city: str = ""
    postal_code: str = ""


@dataclass
class ClientInput:
    first_name: str = ""
    last_name: str = ""
    date_of_birth: str = ""
    time_zone: str = ""
    home_state: str = ""
    notes: str = ""
    caregivers: list[CaregiverInput] = field(default_factory=list)
    # The home address (claims and superbills name it); None leaves it as it is.
    address: AddressInput | None = None


@dataclass(frozen=True)
class CleanClient:
    first_name: str
    last_name: str
    date_of_birth: date
    time_zone: str
    home_state: str
    notes: str
    caregivers: list[CaregiverInput]
    address: AddressInput | None


def validate_client(data: ClientInput, *, today: date | None = None) -> CleanClient:
    errors: dict[str, str] = {}
    first, last = data.first_name.strip(), data.last_name.strip()
    if not first:
        errors["first_name"] = "Enter the client's first name."
    elif len(first) > 100:
        errors["first_name"] = "First name is too long (100 characters at most)."
    if not last:
        errors["last_name"] = "Enter the client's last name."
    elif len(last) > 100:
        errors["last_name"] = "Last name is too long (100 characters at most)."
    dob: date | None = None
    try:
        dob = date.fromisoformat(data.date_of_birth.strip())
    except ValueError:
        errors["date_of_birth"] = "Enter the date of birth as YYYY-MM-DD."
    else:
        today = today or utcnow().date()
        if dob > today:
            errors["date_of_birth"] = "The date of birth is in the future."
        elif dob.year < today.year - 120:
            errors["date_of_birth"] = "The date of birth is too far in the past."
    tz = data.time_zone.strip()
    if not is_time_zone(tz):
        errors["time_zone"] = "Choose a time zone from the list (e.g. America/Chicago)."
    state = data.home_state.strip().upper()
    if not is_state(state):
        errors["home_state"] = "Choose the US state the client lives in."
    notes = data.notes.strip()
    if len(notes) > 2000:
        errors["notes"] = "Notes are too long (2000 characters at most)."
    caregivers = [c for c in data.caregivers if not c.is_blank]
    if len(caregivers) > MAX_CAREGIVERS:
        errors["caregivers"] = f"At most {MAX_CAREGIVERS} caregivers."
    for i, cg in enumerate(caregivers):
        cg.name, cg.relationship = cg.name.strip(), cg.relationship.strip()
        cg.email, cg.phone = cg.email.strip().lower(), cg.phone.strip()
        if not cg.name:
            errors[f"caregivers.{i}.name"] = "Enter the caregiver's name."
        if not cg.relationship:
            errors[f"caregivers.{i}.relationship"] = "Say how they relate to the client."
        if cg.email and ("@" not in cg.email or "." not in cg.email.partition("@")[2]):
            errors[f"caregivers.{i}.email"] = "Enter a valid email address."
        if cg.phone and sum(ch.isdigit() for ch in cg.phone) < 7:
            errors[f"caregivers.{i}.phone"] = "Enter a phone number with at least 7 digits."
    address = None
    if data.address is not None:
        address = AddressInput(
            " ".join(data.address.line.split())[:120],
            " ".join(data.address.city.split())[:60],
            data.address.postal_code.strip().replace("-", ""),
        )
        if address.postal_code and not (
            address.postal_code.isdigit() and len(address.postal_code) in (5, 9)
        ):
            errors["postal_code"] = "Enter the ZIP code (5 digits, or ZIP+4)."
    if errors or dob is None:
        raise ValidationFailed(errors)
    return CleanClient(first, last, dob, tz, state, notes, caregivers, address)


def _apply_address(client: Client, address: AddressInput | None) -> list[str]:
    if address is None:
        return []
    values = {"address_line": address.line, "city": address.city,
              "postal_code": address.postal_code}  # fmt: skip
    changed = [k for k, v in values.items() if getattr(client, k) != v]
    for key in changed:
        setattr(client, key, values[key])
    return changed


def _apply_caregivers(client: Client, caregivers: list[CaregiverInput]) -> None:
    client.caregivers.clear()
    for cg in caregivers:
        client.caregivers.append(
            Caregiver(
                name=cg.name,
                relationship_to_client=cg.relationship,
                email=cg.email or None,
                phone=cg.phone or None,
            )
        )


async def create_client(
    session: AsyncSession, owner: User, data: ClientInput, actor: Actor
) -> Client:
    clean = validate_client(data)
    client = Client(
        therapist_id=owner.id,
        first_name=clean.first_name,
        last_name=clean.last_name,
        date_of_birth=clean.date_of_birth,
        time_zone=clean.time_zone,
        home_state=clean.home_state,
        notes=clean.notes,
        caregivers=[],
        address_line="",
        city="",
        postal_code="",
    )
    _apply_address(client, clean.address)
    _apply_caregivers(client, clean.caregivers)
    session.add(client)
    await session.flush()
    add_audit(session, actor, "client.create", object_type="client", object_id=client.id)
    return client


async def update_client(
    session: AsyncSession, client: Client, data: ClientInput, actor: Actor
) -> Client:
    clean = validate_client(data)
    changed = [
        name
        for name in ("first_name", "last_name", "date_of_birth", "time_zone", "home_state", "notes")
        if getattr(client, name) != getattr(clean, name)
    ]
    for name in changed:
        setattr(client, name, getattr(clean, name))
    changed += _apply_address(client, clean.address)
    _apply_caregivers(client, clean.caregivers)
    client.updated_at = utcnow()
    await session.flush()
    add_audit(
        session,
        actor,
        "client.update",
        object_type="client",
        object_id=client.id,
        detail={"fields": changed, "caregivers": len(clean.caregivers)},
    )
    return client


async def get_client_for(
    session: AsyncSession, user: User, client_id: uuid.UUID | str, actor: Actor
) -> Client:
    """Reads one client record for a user allowed to see it; the read itself is audited."""
    cid = owned_id(client_id, NO_CLIENT, actor, "client.read", "client")
    client = await session.get(Client, cid)
    if client is None or (client.therapist_id != user.id and not user.is_admin):
        raise not_found_for(NO_CLIENT, actor, "client.read", "client", cid, exists=bool(client))
    add_audit(session, actor, "client.read", object_type="client", object_id=client.id)
    return client


async def find_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    """The client by id, for a page that already holds a record of theirs the user may read
    (a note, a plan): no access check and no audit row of its own."""
    return await session.get(Client, client_id)


async def list_client_names(
    session: AsyncSession, client_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Full names by id, for lists that name each row's client (no clinical content read)."""
    wanted = set(client_ids)
    if not wanted:
        return {}
    rows = await session.scalars(select(Client).where(Client.id.in_(wanted)))
    return {c.id: c.full_name for c in rows}


async def list_clients(
    session: AsyncSession, user: User, *, search: str = "", include_archived: bool = False
) -> list[Client]:
    query = select(Client).where(Client.therapist_id == user.id)
    if not include_archived:
        query = query.where(Client.archived_at.is_(None))
    if search.strip():
        pattern = f"%{search.strip()}%"
        query = query.where(Client.first_name.ilike(pattern) | Client.last_name.ilike(pattern))
    rows = await session.scalars(query.order_by(Client.last_name, Client.first_name))
    return list(rows)


async def count_clients(session: AsyncSession, user: User) -> int:
    return int(
        await session.scalar(
            select(func.count(Client.id)).where(
                Client.therapist_id == user.id, Client.archived_at.is_(None)
            )
        )
        or 0
    )
