"""Video sessions, the join links issued for them, who was present when, who was removed."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class VideoSessionState(enum.StrEnum):
    open = "open"  # lobby open, nobody admitted yet
    live = "live"
    ended = "ended"


class VideoSession(Base):
    __tablename__ = "video_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    client_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    # Set when the session was started from a telehealth appointment (scheduling).
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[VideoSessionState] = mapped_column(
        Enum(VideoSessionState, native_enum=False, length=10, validate_strings=True),
        default=VideoSessionState.open,
    )
    planned_start: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    live_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JoinLink(Base):
    """A link handed to a parent or observer. The signed token itself is never stored."""

    __tablename__ = "join_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the link id inside the token
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10))  # parent | observer
    display_name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Parents of visits under the licensure gate confirm where they are before they knock; the
    # socket's join is refused until a state the therapist may see them in is stored here.
    location_state: Mapped[str | None] = mapped_column(String(2), nullable=True)
    location_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SessionAttendance(Base):
    """One stretch of presence: a participant joined (or rejoined) and later left."""

    __tablename__ = "session_attendance"
    __table_args__ = (Index("ix_session_attendance_session", "session_id", "participant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="CASCADE")
    )
    participant_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    display_name: Mapped[str] = mapped_column(String(80))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The node (process) that hosted the session then: if it dies, its open stretches end at
    # its last heartbeat (video_nodes), not whenever someone notices. Null before it was kept.
    node_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)


class SessionRemoval(Base):
    """The therapist removed this participant: their rejoin credential stays void, also for a
    host that starts after a restart (or on another node) and never saw the removal."""

    __tablename__ = "session_removals"

    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(UTCDateTime)
