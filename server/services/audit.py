"""The one way every domain writes to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who did it: a signed-in user, a join-link holder, the system, or nobody known."""

    type: str
    id: str | None = None
    label: str | None = None
    remote_addr: str | None = None

    @classmethod
    def anonymous(cls, remote_addr: str | None = None) -> Actor:
        return cls("anonymous", None, None, remote_addr)

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, "system")


def add_audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Adds an audit row to the caller's unit of work: it commits or rolls back with the change."""
    entry = AuditEntry(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        outcome=outcome,
        remote_addr=actor.remote_addr,
        detail=detail or {},
    )
    session.add(entry)
    return entry


async def record_audit(
    factory: async_sessionmaker[AsyncSession],
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Writes in a transaction of its own, so refused or failed requests keep their audit row."""
    async with factory() as session, session.begin():
        add_audit(
            session,
            actor,
            action,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            detail=detail,
        )


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.action:
        query = query.where(AuditEntry.action.startswith(f.action))
    if f.actor:
        pattern = f"%{f.actor}%"
        query = query.where(
            AuditEntry.actor_label.ilike(pattern) | AuditEntry.actor_id.ilike(pattern)
        )
    if f.object_type:
        query = query.where(AuditEntry.object_type == f.object_type)
    if f.object_id:
        query = query.where(AuditEntry.object_id == f.object_id)
    if f.outcome:
        query = query.where(AuditEntry.outcome == f.outcome)
    if f.since:
        query = query.where(AuditEntry.at >= f.since)
    if f.until:
        query = query.where(AuditEntry.at < f.until)
    return query


async def list_audit(
    session: AsyncSession, f: AuditFilter, *, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    total = await session.scalar(_filtered(select(func.count(AuditEntry.id)), f))
    rows = await session.scalars(
        _filtered(select(AuditEntry), f)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)
