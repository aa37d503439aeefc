"""Annotations made during a session, their snapshot images, and each client's one-tap tags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class Annotation(Base):
    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_session", "session_id", "session_ms"),
        # A resend after a lost ack finds the first save instead of storing a second one.
        UniqueConstraint("session_id", "author_participant_id", "client_ref"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("video_sessions.id", ondelete="RESTRICT")
    )
    author_participant_id: Mapped[str] = mapped_column(String(64))
    author_role: Mapped[str] = mapped_column(String(10))
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )
    author_link_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(10))  # note | tag | undo | drawing | snapshot
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    tag: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Treatment goals arrive with documentation; until then an opaque id from the client.
    goal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    target_participant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    session_ms: Mapped[int] = mapped_column(BigInteger)
    recording_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("recordings.id", ondelete="RESTRICT"), nullable=True
    )
    recording_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    client_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was made, in the call
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnnotationSnapshot(Base):
    """The image in the database: committed with its annotation, so an ack covers both."""

    __tablename__ = "annotation_snapshots"

    annotation_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("annotations.id", ondelete="RESTRICT"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(40))
    byte_size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    image: Mapped[bytes] = mapped_column(LargeBinary)


class AnnotationTag(Base):
    """A client's one-tap tag list; a client without one gets the defaults. A tag may count
    toward a goal (`goal_id`: the goal's lineage id), and one label toward several goals."""

    __tablename__ = "annotation_tags"
    __table_args__ = (UniqueConstraint("client_id", "goal_id", "label"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(40))
    goal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
