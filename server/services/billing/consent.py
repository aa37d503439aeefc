"""Whether telehealth consent is on file for a visit: the one question billing asks of consent.

A telehealth consent recorded in the chart or signed by the family, not withdrawn before the
visit (documentation/consent.py). The note's "consent on file" line is not enough by itself: it
was copied from these records when the note was drafted, and a consent withdrawn as of before
the visit (recorded in error) must hold the charge back although the signed note still says yes.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.services.documentation.consent import telehealth_consent_for


async def telehealth_consent_on_file(session: AsyncSession, client_id: object, on: date) -> bool:
    return await telehealth_consent_for(session, client_id, on) is not None
