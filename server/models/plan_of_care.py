"""Plans of care and their goals. A re-evaluation writes a new version; old ones stay as they were.

Goals are versioned with their plan: each version is its own row, and `lineage_id` ties the
versions of one goal together so its measurements read as one history across re-evaluations.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class PlanOfCare(Base):
    __tablename__ = "plans_of_care"
    __table_args__ = (Index("ix_plans_of_care_client_version", "client_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT")
    )
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    version: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("plans_of_care.id", ondelete="RESTRICT"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(12))  # active | superseded | discharged
    discipline: Mapped[str] = mapped_column(String(10))  # ot | pt | slp
    assessment: Mapped[str] = mapped_column(Text, default="")
    visits_per_week: Mapped[int] = mapped_column(Integer)
    visit_minutes: Mapped[int] = mapped_column(Integer)
    cert_start: Mapped[date] = mapped_column(Date)
    cert_end: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(300), default="")  # why this version exists
    # The CPT codes the plan covers (treatment codes; evaluations need no plan).
    procedure_codes: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    # The therapist's own coaching cues for the parent (the call offers defaults without them).
    coaching_cues: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    created_by_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    goals: Mapped[list[Goal]] = relationship(
        order_by="Goal.number", lazy="selectin", back_populates="plan"
    )

    @property
    def frequency(self) -> str:
        return f"{self.visits_per_week}x/week, {self.visit_minutes} min"


class Goal(Base):
    __tablename__ = "goals"

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("plans_of_care.id", ondelete="RESTRICT"), index=True
    )
    lineage_id: Mapped[uuid.UUID] = mapped_column(UUIDString, index=True)
    number: Mapped[int] = mapped_column(Integer)  # "Goal 2" on notes and charts
    term: Mapped[str] = mapped_column(String(5))  # long | short
    label: Mapped[str] = mapped_column(String(60))  # short name: "grasp"
    description: Mapped[str] = mapped_column(Text)
    # percent_trials | frequency | duration | assistance
    measure: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))  # %, times, seconds, level
    baseline: Mapped[float] = mapped_column()
    target: Mapped[float] = mapped_column()
    target_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(15))  # active | met | not_met | discontinued
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[PlanOfCare] = relationship(back_populates="goals", lazy="raise")

    @property
    def title(self) -> str:
        return f"Goal {self.number}, {self.label}"
