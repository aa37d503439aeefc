"""The errors a domain service raises to turn a request down.

`str(error)` is the sentence the person is shown, so a service says why in its own words and no
page words it again. The HTTP layer maps each kind to a status in one place
(server/http/errors.py): NotFound 404, Refused 403, Conflict 409, Invalid 422.
"""

from __future__ import annotations

import uuid


class DomainError(Exception):
    @property
    def message(self) -> str:
        return str(self)


class NotFound(DomainError, LookupError):
    """No such thing, or not one the user may see: the same answer, so nothing can be probed."""


class Refused(DomainError, PermissionError):
    """The user may see it but not do this to it (not theirs to change)."""


class Conflict(DomainError):
    """Not possible in its present state (signed, ended, not started yet)."""


class Invalid(DomainError, ValueError):
    """The request's input needs fixing."""


class ValidationFailed(Invalid):
    """Input that needs fixing, field by field (forms show each message beside its field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    @property
    def message(self) -> str:
        return " ".join(self.errors.values())


def as_uuid(value: object, missing: str, error: type[NotFound] = NotFound) -> uuid.UUID:
    """An id from a URL or a form: a malformed one names nothing, so it is not found."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise error(missing) from None
