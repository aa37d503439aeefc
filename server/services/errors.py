"""The errors a domain service raises to turn a request down.

`str(error)` is the sentence the person is shown, so a service says why in its own words and no
page words it again. The HTTP layer maps each kind to a status in one place
(server/http/errors.py): NotFound 404, Refused 403, Conflict 409, Invalid 422.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from server.services.audit import Actor


@dataclass(frozen=True)
class AccessRefusal:
    """What the audit log keeps of a refused read or change of someone's record.

    The service decides that a refusal matters and says so on the error; the HTTP layer's one
    handler writes it (server/http/errors.py) through the app's AuditLog, in a transaction of its
    own (the request's unit of work rolls back) and aggregated (nobody can flood the log).
    """

    actor: Actor
    action: str
    object_type: str
    object_id: str
    # "not_owner": the record exists and is someone else's; "no_such_record": nothing there.
    reason: str


class DomainError(Exception):
    def __init__(self, *args: object, refusal: AccessRefusal | None = None) -> None:
        super().__init__(*args)
        self.refusal = refusal

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


def not_found_for(
    message: str,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: object,
    *,
    exists: bool,
) -> NotFound:
    """The answer when a user asks for a record that is not theirs (or not there): the same
    sentence either way, so nothing can be probed; the audit log keeps which it was."""
    refusal = None
    if actor is not None:
        reason = "not_owner" if exists else "no_such_record"
        refusal = AccessRefusal(actor, action, object_type, str(object_id)[:64], reason)
    return NotFound(message, refusal=refusal)


def owned_id(
    value: object, message: str, actor: Actor | None, action: str, object_type: str
) -> uuid.UUID:
    """An id from a URL or form for a record the user must own: malformed, it names nothing
    (refused as not found, and audited like any other miss)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise not_found_for(message, actor, action, object_type, value, exists=False) from None


def as_uuid(value: object, missing: str, error: type[NotFound] = NotFound) -> uuid.UUID:
    """An id from a URL or a form: a malformed one names nothing, so it is not found."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise error(missing) from None
