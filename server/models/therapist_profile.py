"""What a therapist's practice looks like to the scheduler: licenses, places, rates, preferences."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class License(Base):
    """A state license or an interstate-compact privilege: either lets telehealth reach a state."""

    __tablename__ = "therapist_licenses"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # license | compact
    state: Mapped[str] = mapped_column(String(2))
    number: Mapped[str] = mapped_column(String(60), default="")
    expires_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Location(Base):
    """A clinic with an address, or 'home visits' (the visit happens at the client's address)."""

    __tablename__ = "practice_locations"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # clinic | home_visit
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(300), default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_home_visit(self) -> bool:
        return self.kind == "home_visit"


class Rate(Base):
    """A fee per service type; mode NULL means the same fee in person and by telehealth."""

    __tablename__ = "practice_rates"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    service_type: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SchedulePreferences(Base):
    """One row per therapist; absent means the defaults below."""

    __tablename__ = "schedule_preferences"

    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    travel_buffer_minutes: Mapped[int] = mapped_column(Integer, default=30)
    long_gap_minutes: Mapped[int] = mapped_column(Integer, default=120)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
