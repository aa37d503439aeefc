"""The home program: items the therapist asks the family to practise, read by the family."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Client, HomeProgramItem, User
from server.services.audit import Actor, add_audit
from server.services.errors import ValidationFailed, not_found_for, owned_id

from .access import FamilyIdentity

NO_ITEM = "No such home-program item."


async def add_item(
    session: AsyncSession, therapist: User, client: Client, title: str, instruction: str,
    actor: Actor,
) -> HomeProgramItem:  # fmt: skip
    title, instruction = title.strip(), instruction.strip()
    errors = {}
    if not title or len(title) > 120:
        errors["title"] = "Name the item in 1 to 120 characters."
    if not instruction or len(instruction) > 1000:
        errors["instruction"] = "Write the instruction in 1 to 1000 characters."
    if errors:
        raise ValidationFailed(errors)
    item = HomeProgramItem(
        client_id=client.id, created_by=therapist.id, title=title, instruction=instruction
    )
    session.add(item)
    await session.flush()
    add_audit(
        session, actor, "home_program.add", object_type="home_program_item", object_id=item.id,
        detail={"client_id": str(client.id)},
    )  # fmt: skip
    return item


async def list_items(session: AsyncSession, client: Client) -> list[HomeProgramItem]:
    rows = await session.scalars(
        select(HomeProgramItem)
        .where(HomeProgramItem.client_id == client.id, HomeProgramItem.archived_at.is_(None))
        .order_by(HomeProgramItem.created_at)
    )
    return list(rows)


async def get_item_for_family(
    session: AsyncSession, identity: FamilyIdentity, item_id: object, actor: Actor
) -> HomeProgramItem:
    """One item of the family's own client; another client's answers as missing, audited."""
    iid = owned_id(item_id, NO_ITEM, actor, "family.item_read", "home_program_item")
    item = await session.get(HomeProgramItem, iid)
    if item is None or item.client_id != identity.client.id or item.archived_at is not None:
        raise not_found_for(
            NO_ITEM, actor, "family.item_read", "home_program_item", iid, exists=item is not None
        )
    add_audit(session, actor, "family.item_read", object_type="home_program_item", object_id=iid)
    return item
