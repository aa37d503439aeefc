"""What the documentation modules share: their errors and id parsing."""

from __future__ import annotations

from server.models import SignedNoteLocked
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
]


class NotAuthor(Refused):
    """Only a note's author may edit or sign it."""


class NoteSigned(Conflict, SignedNoteLocked):
    """A signed note refuses the change: `str()` tells the person, `reason` is what the refusal's
    audit row keeps. Still a SignedNoteLocked, the error of the models' own guard behind it."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
