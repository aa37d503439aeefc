"""The practice as a claim names it: identifiers, address, and its billing policies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, UTCDateTime, UUIDString, utcnow

# CMS's therapy threshold for the KX modifier (PT and speech combined, OT separately); a
# practice sets the year's figure.
DEFAULT_KX_THRESHOLD_CENTS = 2410_00
DEFAULT_LATE_ENTRY_HOURS = 24


class PracticeProfile(Base):
    """One row per therapist (the practice Tandem bills for); absent means nothing set yet."""

    __tablename__ = "practice_profiles"

    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    practice_name: Mapped[str] = mapped_column(String(120), default="")
    # Billing NPI (the practice, type 2) and rendering NPI (the therapist, type 1): 10 digits.
    billing_npi: Mapped[str] = mapped_column(String(10), default="")
    rendering_npi: Mapped[str] = mapped_column(String(10), default="")
    tax_id: Mapped[str] = mapped_column(String(9), default="")  # EIN, 9 digits
    taxonomy_code: Mapped[str] = mapped_column(String(10), default="")
    address_line: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(2), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")  # ZIP+4 for claims
    phone: Mapped[str] = mapped_column(String(20), default="")
    # The clearinghouse the 837P goes to: its id for us (submitter) and its own (receiver).
    submitter_id: Mapped[str] = mapped_column(String(15), default="")
    receiver_id: Mapped[str] = mapped_column(String(15), default="")
    receiver_name: Mapped[str] = mapped_column(String(60), default="")
    kx_threshold_cents: Mapped[int] = mapped_column(Integer, default=DEFAULT_KX_THRESHOLD_CENTS)
    # A note signed later than this after the end of its date of service is a late entry.
    late_entry_hours: Mapped[int] = mapped_column(Integer, default=DEFAULT_LATE_ENTRY_HOURS)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
