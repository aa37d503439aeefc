"""Messages to families, queued in the same transaction as the change they announce and sent
after the commit by the outbox worker (a failing mail server never loses one)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class OutboxMessage(Base):
    """A message waiting to leave (or that left): written in the same unit of work as its cause.

    status: pending (due at next_attempt_at), sending (claimed by a worker until claimed_until),
    sent, failed (refused for good, or retried until it was too late), cancelled (a reminder whose
    visit moved or was cancelled before it left).
    """

    __tablename__ = "outbox_messages"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. appointment.invite
    channel: Mapped[str] = mapped_column(String(20), default="email")
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # An HTML alternative (the join button); the plain body always carries the same links.
    html_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The RFC 5322 Message-ID, fixed before the first attempt and the same on every retry, so a
    # copy sent again after a crash is folded by mail clients.
    rfc_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Due from (reminders are queued ahead; retries back off); None: at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    # A worker that claimed the message owns it until then; past it, the attempt is presumed lost.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Makes queuing idempotent (a reminder per visit, time and caregiver); None for one-offs.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class OutboxAttempt(Base):
    """One try at sending a message, written before the try and completed after it."""

    __tablename__ = "outbox_attempts"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    # started (in flight, or the process died), sent, retry, failed, interrupted
    outcome: Mapped[str] = mapped_column(String(20), default="started")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
