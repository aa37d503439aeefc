"""The one way every domain writes to the audit log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import utcnow
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


# Outcomes that are refusals: these are aggregated (see AuditLog); anything else is written as is.
REFUSALS = frozenset({"refused", "denied"})


@dataclass
class _Repeats:
    """Identical refusals from one source inside one window, after the first (already written)."""

    window_start: float
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class _SourceWindow:
    """How many distinct refusal rows one source (actor, address, action) wrote in a window."""

    window_start: float
    rows: int = 0
    suppressed: int = 0
    objects: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None


class AuditLog:
    """Audit rows that must outlive the request's rollback, each in a transaction of its own.

    Every refusal that matters is recorded, but nobody may flood the log with them: within a
    window (60 s), the first refusal of a kind from a source is written at once, and identical
    ones after it are counted and written as ONE summary row when the window closes (detail
    `repeated`, `first_at`, `last_at`, `window_seconds`). A source that varies what it asks for
    (probing ids) writes at most `distinct_per_source` rows per action and window; the rest become
    one summary row (`repeated`, `objects`). Summaries are flushed every few seconds by the app's
    background task and at shutdown. The windows live in this process: with several processes,
    each aggregates its own refusals.
    """

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        *,
        window_seconds: float = 60.0,
        distinct_per_source: int = 20,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.window = window_seconds
        self.distinct_per_source = distinct_per_source
        self._max_keys = max_keys
        self._clock = clock
        self._repeats: dict[tuple[Any, ...], _Repeats] = {}
        self._sources: dict[tuple[Any, ...], _SourceWindow] = {}
        self._template: dict[tuple[Any, ...], tuple[Actor, str, str | None, str | None, str]] = {}

    async def record(
        self,
        actor: Actor,
        action: str,
        *,
        object_type: str | None = None,
        object_id: object | None = None,
        outcome: str = "ok",
        detail: dict[str, Any] | None = None,
    ) -> None:
        detail = detail or {}
        oid = None if object_id is None else str(object_id)
        if outcome in REFUSALS:
            summaries = self._expired()
            written = self._count(actor, action, object_type, oid, outcome, detail)
            for row in summaries:
                await self._write(*row)
            if not written:
                return
        await self._write(actor, action, object_type, oid, outcome, detail)

    def _count(
        self,
        actor: Actor,
        action: str,
        object_type: str | None,
        object_id: str | None,
        outcome: str,
        detail: dict[str, Any],
    ) -> bool:
        """Counts a refusal; True when it is to be written now (the first of its kind)."""
        now, at = self._clock(), utcnow()
        source = (actor.type, actor.id, actor.label, actor.remote_addr, action, outcome)
        key = (*source, object_type, object_id, _frozen(detail))
        repeats = self._repeats.get(key)
        if repeats is not None:
            repeats.count += 1
            repeats.first_at = repeats.first_at or at
            repeats.last_at = at
            return False
        window = self._sources.get(source)
        if window is None:
            window = self._sources[source] = _SourceWindow(now)
            self._template[source] = (actor, action, object_type, None, outcome)
        if window.rows >= self.distinct_per_source:
            window.suppressed += 1
            window.objects.add(f"{object_type}:{object_id}")
            window.first_at = window.first_at or at
            window.last_at = at
            return False
        window.rows += 1
        if len(self._repeats) < self._max_keys:
            self._repeats[key] = _Repeats(now)
            self._template[key] = (actor, action, object_type, object_id, outcome)
        return True

    def _expired(self, *, everything: bool = False) -> list[tuple[Any, ...]]:
        """Closes the windows that ended: the summary rows to write."""
        now = self._clock()
        rows: list[tuple[Any, ...]] = []
        for key, repeats in list(self._repeats.items()):
            if everything or now - repeats.window_start >= self.window:
                del self._repeats[key]
                actor, action, object_type, object_id, outcome = self._template.pop(key)
                if repeats.count:
                    detail = {
                        **dict(key[-1]),
                        "repeated": repeats.count,
                        "first_at": _iso(repeats.first_at),
                        "last_at": _iso(repeats.last_at),
                        "window_seconds": self.window,
                    }
                    rows.append((actor, action, object_type, object_id, outcome, detail))
        for source, window in list(self._sources.items()):
            if everything or now - window.window_start >= self.window:
                del self._sources[source]
                actor, action, object_type, _, outcome = self._template.pop(source)
                if window.suppressed:
                    detail = {
                        "repeated": window.suppressed,
                        "objects": len(window.objects),
                        "first_at": _iso(window.first_at),
                        "last_at": _iso(window.last_at),
                        "window_seconds": self.window,
                        "reason": "more refusals than the per-source limit, summarized",
                    }
                    rows.append((actor, action, object_type, None, outcome, detail))
        return rows

    async def flush(self, *, everything: bool = False) -> int:
        """Writes the summaries of closed windows (all windows with `everything`)."""
        rows = self._expired(everything=everything)
        for row in rows:
            await self._write(*row)
        return len(rows)

    async def _write(
        self,
        actor: Actor,
        action: str,
        object_type: str | None,
        object_id: str | None,
        outcome: str,
        detail: dict[str, Any],
    ) -> None:
        async with self._db() as session, session.begin():
            add_audit(
                session,
                actor,
                action,
                object_type=object_type,
                object_id=object_id,
                outcome=outcome,
                detail=detail,
            )


def _frozen(detail: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        sorted((k, repr(v) if isinstance(v, list | dict) else v) for k, v in detail.items())
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def record_audit(
    log: AuditLog,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Writes in a transaction of its own, so refused or failed requests keep their audit row
    (refusals aggregated: see AuditLog)."""
    await log.record(
        actor, action, object_type=object_type, object_id=object_id, outcome=outcome, detail=detail
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
