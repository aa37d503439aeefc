"""The home program: what the therapist asks the family to practise between visits."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class HomeProgramItem(Base):
    __tablename__ = "home_program_items"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(String(120))
    instruction: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A clip cut from a session's recording (media/recording/clip.py), shown to the family only
    # while their sharing consent is in force.
    clip_file_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("recording_files.id", ondelete="SET NULL"), nullable=True
    )
    clip_name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # under clips/
    clip_start_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)  # asked, in file
    clip_end_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    clip_lead_in_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)  # to the keyframe


class PracticeEntry(Base):
    """The family's record of practising one item on one day."""

    __tablename__ = "practice_entries"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    item_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("home_program_items.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("caregivers.id", ondelete="SET NULL"), nullable=True
    )
    practiced_on: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)
    how_it_went: Mapped[str] = mapped_column(String(20))  # easy | some_help | hard
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
