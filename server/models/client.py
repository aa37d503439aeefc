from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Client(Base):
    """The child receiving therapy. Scheduling and documentation both hang off this one model."""

    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    time_zone: Mapped[str] = mapped_column(String(64))
    home_state: Mapped[str] = mapped_column(String(2))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    # The home address (state is home_state): claims and superbills name it.
    address_line: Mapped[str] = mapped_column(String(120), default="", server_default="")
    city: Mapped[str] = mapped_column(String(60), default="", server_default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="", server_default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    caregivers: Mapped[list[Caregiver]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="Caregiver.created_at",
        lazy="selectin",
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Caregiver(Base):
    __tablename__ = "caregivers"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    relationship_to_client: Mapped[str] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="caregivers")
