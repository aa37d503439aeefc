"""Whether telehealth consent is on file for a visit: the one question billing asks of consent.

Today consent is what the therapist records by hand: a telehealth consent in the chart (not
revoked before the visit), or "consent on file: yes" on the visit's note. Stored signed consents
can answer here later without any caller changing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import ChartConsent, Note


async def telehealth_consent_on_file(
    session: AsyncSession, client_id: object, on: date, note: Note | None = None
) -> bool:
    if note is not None and note.telehealth_consent:
        return True
    day_start = datetime.combine(on, time(), UTC)
    rows = await session.scalars(
        select(ChartConsent).where(
            ChartConsent.client_id == client_id,
            ChartConsent.kind == "telehealth",
            ChartConsent.given_on <= on,
        )
    )
    return any(c.revoked_at is None or c.revoked_at >= day_start for c in rows)
