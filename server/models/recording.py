"""Session recordings: the run (state), its recorded spans, per-participant files, consents.

Clinical and legal records: foreign keys RESTRICT so that deleting a session can never silently
take its consents or recordings with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Recording(Base):
    """One recording of a session, from the therapist's request to its stop."""

    __tablename__ = "recordings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the signaling recording id
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="RESTRICT"), index=True
    )
    requested_by: Mapped[str] = mapped_column(String(100))
    # off | awaiting_consent | recording | paused | stopped (signaling.protocol.RecordingState)
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recorded_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class RecordingSpan(Base):
    """A stretch of time during which the recorder ran (between pauses)."""

    __tablename__ = "recording_spans"
    __table_args__ = (Index("ix_recording_spans_recording", "recording_id", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    recording_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("recordings.id", ondelete="RESTRICT")
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where the span sits on the recording's own timeline (pauses excluded).
    offset_start_ms: Mapped[int] = mapped_column(BigInteger)
    offset_end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RecordingFile(Base):
    """What the media recorder wrote for one participant of one recording."""

    __tablename__ = "recording_files"
    __table_args__ = (Index("ix_recording_files_recording", "recording_id", "participant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    recording_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("recordings.id", ondelete="RESTRICT")
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="RESTRICT"), index=True
    )
    participant_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # recording | finalized | incomplete
    storage_path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Where this file's first moment sits on the recording's clock (pauses excluded): someone
    # admitted after recording began has a file that starts later than the recording.
    offset_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecordingConsent(Base):
    """One decision, with the exact text the person was shown (texts change; decisions don't)."""

    __tablename__ = "recording_consents"
    __table_args__ = (Index("ix_recording_consents_recording", "recording_id", "decided_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="RESTRICT"), index=True
    )
    recording_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("recordings.id", ondelete="RESTRICT")
    )
    request_id: Mapped[str] = mapped_column(String(64))
    participant_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(10))
    display_name: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    link_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accepted: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text)
    text_version: Mapped[str] = mapped_column(String(40))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
