"""Insurers a practice bills, with their telehealth rules."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Payer(Base):
    __tablename__ = "payers"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(60))
    payer_code: Mapped[str] = mapped_column(String(20))  # the electronic payer id (NM109)
    telehealth_modifier: Mapped[str] = mapped_column(String(2), default="95")  # 95 | GT | ""
    pos_rule: Mapped[str] = mapped_column(String(20), default="cms")  # see billing/rules.py
    # parity: telehealth paid at the in-person fee; separate: the fee schedule's telehealth fee.
    rate_rule: Mapped[str] = mapped_column(String(10), default="parity")
    claim_filing_code: Mapped[str] = mapped_column(String(2), default="CI")  # SBR09: CI, MC, MB
    applies_kx: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_authorization: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
