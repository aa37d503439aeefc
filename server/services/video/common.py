"""What the video modules share: a session's id, and the answer when it names no session."""

from __future__ import annotations

import uuid

from server.services.errors import AccessRefusal, NotFound, as_uuid

NO_SESSION = "No such video session."


class SessionNotFound(NotFound):
    def __init__(self, message: str = NO_SESSION, *, refusal: AccessRefusal | None = None) -> None:
        super().__init__(message, refusal=refusal)


def parse_id(value: object) -> uuid.UUID:
    return as_uuid(value, NO_SESSION, SessionNotFound)
