"""The practice's fees per code and mode, per payer or its own."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class FeeScheduleEntry(Base):
    """The fee per unit of a code: for one payer, or the practice's own (payer NULL: private pay
    and the fallback); mode NULL means the same fee in person and by telehealth."""

    __tablename__ = "fee_schedule"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    payer_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("payers.id", ondelete="CASCADE"), nullable=True
    )
    code: Mapped[str] = mapped_column(String(5))
    mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
