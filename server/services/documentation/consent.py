"""Whether telehealth consent is on file for a client on a day: a consent the therapist recorded
in the chart, or one the family signed on the family page, not withdrawn before that day.

Signing a telehealth visit's note needs it (notes.sign_note), and billing asks the same question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import ChartConsent, SignedConsent


@dataclass(frozen=True)
class ConsentOnFile:
    source: str  # "chart" (recorded by the therapist) or "family" (signed by the family)
    given_by: str
    given_on: date
    version: str | None = None


async def telehealth_consent_for(
    session: AsyncSession, client_id: object, on: date
) -> ConsentOnFile | None:
    """The telehealth consent in force on ``on`` (None: none on file)."""
    day_start = datetime.combine(on, time(), UTC)
    day_end = day_start + timedelta(days=1)
    signed = await session.scalars(
        select(SignedConsent)
        .where(
            SignedConsent.client_id == client_id,
            SignedConsent.kind == "telehealth",
            SignedConsent.signed_at < day_end,
        )
        .order_by(SignedConsent.signed_at.desc())
    )
    for row in signed:
        if row.withdrawn_at is None or row.withdrawn_at >= day_start:
            return ConsentOnFile("family", row.signed_name, row.signed_at.date(), row.version)
    charted = await session.scalars(
        select(ChartConsent)
        .where(
            ChartConsent.client_id == client_id,
            ChartConsent.kind == "telehealth",
            ChartConsent.given_on <= on,
        )
        .order_by(ChartConsent.given_on.desc())
    )
    for chart in charted:
        if chart.revoked_at is None or chart.revoked_at >= day_start:
            return ConsentOnFile("chart", chart.given_by, chart.given_on)
    return None
