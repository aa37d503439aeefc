"""Charges (one per billed visit) and their lines, proposed from signed notes.

A confirmed charge is a financial record and never changes, as a signed note never does: the
services refuse, the mapper events below refuse (any ORM path), and database triggers refuse
(any SQL path; see the billing migration). A correction is new rows: a reversal (the same lines
with negative units and amounts, confirmed at once) and a replacement proposed for review.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, relationship

from server.db import Base, UTCDateTime, UUIDString, new_id, utcnow


class ChargeLocked(PermissionError):
    pass


class Charge(Base):
    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_therapist_date", "therapist_id", "service_date"),
        Index("ix_charges_client_date", "client_id", "service_date"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    therapist_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT")
    )
    client_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("clients.id", ondelete="RESTRICT")
    )
    note_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("notes.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    # Who pays, as it stood when the charge was made: NULL is private pay.
    payer_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("payers.id", ondelete="RESTRICT"), nullable=True
    )
    member_id: Mapped[str] = mapped_column(String(30), default="")
    kind: Mapped[str] = mapped_column(String(10), default="charge")  # charge | reversal
    status: Mapped[str] = mapped_column(String(10), default="proposed")  # proposed | confirmed
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("charges.id", ondelete="RESTRICT"), nullable=True
    )
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("charges.id", ondelete="RESTRICT"), nullable=True
    )
    correction_reason: Mapped[str] = mapped_column(String(300), default="")
    claim_number: Mapped[str] = mapped_column(String(20), unique=True)
    service_date: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(20))
    place_of_service: Mapped[str] = mapped_column(String(2))
    discipline: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # ICD-10-CM codes from the chart, in order: [{code, description}]; lines point into it.
    diagnoses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    timed_minutes: Mapped[int] = mapped_column(Integer, default=0)
    treatment_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUIDString, ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
    )

    lines: Mapped[list[ChargeLine]] = relationship(
        order_by="ChargeLine.line_number", lazy="selectin", back_populates="charge"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.status == "confirmed"

    @property
    def is_private_pay(self) -> bool:
        return self.payer_id is None


class ChargeLine(Base):
    __tablename__ = "charge_lines"
    __table_args__ = (UniqueConstraint("charge_id", "line_number"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDString, primary_key=True, default=new_id)
    charge_id: Mapped[uuid.UUID] = mapped_column(
        UUIDString, ForeignKey("charges.id", ondelete="RESTRICT")
    )
    line_number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(5))
    modifiers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    units: Mapped[int] = mapped_column(Integer)  # negative on a reversal
    unit_fee_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)
    diagnosis_pointers: Mapped[list[Any]] = mapped_column(JSON, default=list)  # 1-based

    charge: Mapped[Charge] = relationship(back_populates="lines", lazy="raise")


def _was_confirmed(target: Charge) -> bool:
    history = inspect(target).attrs.status.history
    before = history.deleted[0] if history.deleted else target.status
    return before == "confirmed"


@event.listens_for(Charge, "before_update")
def _refuse_confirmed_update(_mapper: Mapper[Charge], _connection: Any, target: Charge) -> None:
    if not _was_confirmed(target):
        return
    changed = [attr.key for attr in inspect(target).attrs if attr.history.has_changes()]
    if changed:
        raise ChargeLocked(f"charge {target.id} is confirmed; refused change of {changed}")


@event.listens_for(Charge, "before_delete")
def _refuse_confirmed_delete(_mapper: Mapper[Charge], _connection: Any, target: Charge) -> None:
    if _was_confirmed(target):
        raise ChargeLocked(f"charge {target.id} is confirmed; it cannot be deleted")


@event.listens_for(ChargeLine, "before_update")
@event.listens_for(ChargeLine, "before_delete")
def _refuse_confirmed_line(_m: Mapper[ChargeLine], connection: Any, target: ChargeLine) -> None:
    status = connection.scalar(
        select(Charge.__table__.c.status).where(Charge.__table__.c.id == target.charge_id)
    )
    if status == "confirmed":
        raise ChargeLocked(f"charge line {target.id} belongs to a confirmed charge")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_charge_writes(state: ORMExecuteState) -> None:
    # Bulk UPDATE/DELETE statements skip the per-object events above: charges are only ever
    # changed one object at a time.
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if mapper.class_ in (Charge, ChargeLine):
            raise ChargeLocked("bulk UPDATE/DELETE of charges is not allowed")
