"""What a family signs and fills in before the visit: consents (stored with the exact text
they agreed to) and the intake form."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class SignedConsent(Base):
    __tablename__ = "signed_consents"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("caregivers.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # telehealth | recording | sharing
    version: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)  # exactly what was shown and agreed to
    signed_name: Mapped[str] = mapped_column(String(200))  # the typed name
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IntakeResponse(Base):
    __tablename__ = "intake_responses"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("caregivers.id", ondelete="SET NULL"), nullable=True
    )
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
