"""A link that joins a phone as a participant's second camera: single-use, short-lived."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, utcnow


class SecondCameraLink(Base):
    """Only the code's SHA-256 is stored: the short link itself is the credential."""

    __tablename__ = "second_camera_links"

    code_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[str] = mapped_column(String(64))  # whose camera it becomes
    link_id: Mapped[str] = mapped_column(String(64))  # the owner's join link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
