from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow

if TYPE_CHECKING:
    from server.models.client import Client
    from server.models.therapist_profile import Location


class AppointmentSeries(Base):
    """A weekly rule anchored in the therapist's zone; its occurrences are stored as appointments.

    Materialising occurrences keeps conflict checks, the feed and schedule health plain queries,
    and lets one occurrence be moved or cancelled without exception tables.
    """

    __tablename__ = "appointment_series"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    anchor_zone: Mapped[str] = mapped_column(String(64))
    local_start: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    first_date: Mapped[date] = mapped_column(Date)
    last_date: Mapped[date] = mapped_column(Date)
    # Set when "this and all following" split the rule: the newer series continues it.
    continued_by_id: Mapped[uuid.UUID | None] = mapped_column(UUIDString, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_therapist_starts", "therapist_id", "starts_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE")
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    series_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("appointment_series.id", ondelete="SET NULL"), nullable=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("practice_locations.id", ondelete="SET NULL"), nullable=True
    )
    # Where the client will be during a telehealth visit: the state licensure is checked against.
    client_state: Mapped[str] = mapped_column(String(2))
    service_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="booked", index=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Captured at booking: a later change of the therapist's rates leaves this untouched.
    rate_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    override_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    overridden: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The seam to live video: the video-session domain writes its session id here.
    video_session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Joined: every view of an appointment shows who and where (and async forbids lazy loads).
    client: Mapped[Client] = relationship(lazy="joined")
    location: Mapped[Location | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        """Still occupies the therapist's time (cancelled ones free the slot)."""
        return self.status != "cancelled"
