"""A client's insurance: who pays, the member, the subscriber (for a child, usually a parent)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class ClientCoverage(Base):
    """The active coverage of a client (ended ones keep `ended_on`). None active: private pay."""

    __tablename__ = "client_coverages"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT"), index=True
    )
    payer_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("payers.id", ondelete="RESTRICT")
    )
    member_id: Mapped[str] = mapped_column(String(30))
    group_number: Mapped[str] = mapped_column(String(30), default="")
    # The client's relationship to the subscriber: self | child | other.
    relationship_to_subscriber: Mapped[str] = mapped_column(String(10), default="child")
    subscriber_first_name: Mapped[str] = mapped_column(String(60), default="")
    subscriber_last_name: Mapped[str] = mapped_column(String(60), default="")
    subscriber_dob: Mapped[date | None] = mapped_column(Date, nullable=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
