"""What the documentation modules share: errors, id parsing, access checks on a client."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Client, SignedNoteLocked, User
from server.services.clients import NotFound, ValidationFailed

__all__ = [
    "NotAuthor",
    "NotFound",
    "SignedNoteLocked",
    "ValidationFailed",
    "as_uuid",
    "client_of",
]


class NotAuthor(PermissionError):
    """Only a note's author may edit or sign it."""


def as_uuid(value: object, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(what) from None


async def client_of(session: AsyncSession, user: User, client_id: object) -> Client:
    """The client, if on the user's caseload (admins see every chart)."""
    client = await session.get(Client, as_uuid(client_id, "client"))
    if client is None or (client.therapist_id != user.id and not user.is_admin):
        raise NotFound("client")
    return client
