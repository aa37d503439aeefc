"""What the documentation modules share: errors, id parsing, access checks on a client."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Client, SignedNoteLocked, User
from server.services.clients import NO_CLIENT
from server.services.errors import Conflict, NotFound, Refused, ValidationFailed, as_uuid

__all__ = [
    "NO_CLIENT",
    "NotAuthor",
    "NotFound",
    "NoteSigned",
    "SignedNoteLocked",
    "ValidationFailed",
    "as_uuid",
    "client_of",
]


class NotAuthor(Refused):
    """Only a note's author may edit or sign it."""


class NoteSigned(Conflict, SignedNoteLocked):
    """A signed note refuses the change: `str()` tells the person, `reason` is what the refusal's
    audit row keeps. A SignedNoteLocked, like the database guard's, which should never fire
    once this has."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def client_of(session: AsyncSession, user: User, client_id: object) -> Client:
    """The client, if on the user's caseload (admins see every chart)."""
    client = await session.get(Client, as_uuid(client_id, NO_CLIENT))
    if client is None or (client.therapist_id != user.id and not user.is_admin):
        raise NotFound(NO_CLIENT)
    return client
