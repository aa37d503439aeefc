"""A family's password-free access: sign-in links sent by email, and the sessions they open.

Only hashes of the random tokens are stored (a leaked table opens nothing); each row is bound
to one caregiver of one client.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class FamilySignInLink(Base):
    __tablename__ = "family_sign_in_links"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    caregiver_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("caregivers.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FamilySession(Base):
    __tablename__ = "family_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("family_sign_in_links.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("caregivers.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
