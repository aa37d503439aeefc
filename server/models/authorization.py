"""Visits a payer authorized for a client over a period."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Authorization(Base):
    __tablename__ = "authorizations"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    payer_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("payers.id", ondelete="RESTRICT")
    )
    number: Mapped[str] = mapped_column(String(30))  # the payer's authorization number
    visits_allowed: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
