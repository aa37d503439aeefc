"""The link a reminder carries for a telehealth visit: it opens the visit's join page once the
therapist has started the session, and says "not open yet" before.

Signed over ids and an expiry only (the payload of a signed token is readable base64); it stops
working after the visit, or at once when the visit is cancelled.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Appointment

from .common import Status

# A link keeps working a little past the visit's end (a visit that runs late).
AFTER_END = timedelta(hours=1)


class VisitLinkInvalid(Exception):
    """Tampered, garbage or expired."""


@dataclass(frozen=True)
class VisitClaim:
    appointment_id: str
    caregiver_id: str
    expires_at: datetime


class VisitLinkSigner:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(
            secret, salt="tandem.visit-link.v1", signer_kwargs={"digest_method": hashlib.sha256}
        )

    def sign(self, appointment_id: object, caregiver_id: object, ends_at: datetime) -> str:
        expires = int((ends_at + AFTER_END).timestamp())
        return self._serializer.dumps(
            {"a": str(appointment_id), "c": str(caregiver_id), "x": expires}
        )

    def verify(self, token: str, now: datetime) -> VisitClaim:
        try:
            data = self._serializer.loads(token)
            claim = VisitClaim(
                str(uuid.UUID(data["a"])),
                str(uuid.UUID(data["c"])),
                datetime.fromtimestamp(int(data["x"]), UTC),
            )
        except (BadData, KeyError, TypeError, ValueError, AttributeError):
            raise VisitLinkInvalid("not a visit link") from None
        if now >= claim.expires_at:
            raise VisitLinkInvalid("expired")
        return claim


def visit_path(token: str) -> str:
    return f"/visit/{token}"


async def get_open_visit(session: AsyncSession, claim: VisitClaim) -> Appointment | None:
    """The visit a link is for, while it is still to come or under way (None: cancelled, over)."""
    appt = await session.get(Appointment, claim.appointment_id)
    if appt is None or appt.status not in (Status.booked, Status.checked_in, Status.in_session):
        return None
    return appt
