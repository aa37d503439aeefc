"""The client's chart facts beside the demographics: diagnoses, referral, consents on file."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Diagnosis(Base):
    """An ICD-10 code with its text. Removal is a timestamp: the chart keeps what was once on it."""

    __tablename__ = "diagnoses"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    code: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(300))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    onset: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    source: Mapped[str] = mapped_column(String(200))  # e.g. pediatrician, school, self
    referring_provider: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    referred_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChartConsent(Base):
    """A consent on file (telehealth, treatment, release); recording consents live per session."""

    __tablename__ = "chart_consents"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # telehealth | treatment | release
    given_by: Mapped[str] = mapped_column(String(200))
    given_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
