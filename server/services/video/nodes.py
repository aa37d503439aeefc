"""The nodes (processes) hosting live sessions: their heartbeats in the database, and what is
repaired when one stops without closing its sessions.

A node registers when it starts and beats every few seconds. When it dies (SIGKILL, a crash, a
lost host), whoever learns of it (the next process to start; with several nodes, the node that
declares it dead) ends the attendance stretches it left open at its last beat, so summaries and
note drafts do not count minutes nobody spent.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import VideoNode

from .sessions import close_attendance_of_node


@dataclass(frozen=True)
class Repair:
    node_id: str
    # None: the node left no trace (its row is gone): nothing was closed.
    last_seen: datetime | None
    attendance_closed: int


async def register_node(session: AsyncSession, node_id: str, at: datetime) -> None:
    node = await session.get(VideoNode, node_id)
    if node is None:
        session.add(VideoNode(node_id=node_id, started_at=at, beat_at=at))
    else:
        node.beat_at = at


async def beat(session: AsyncSession, node_id: str, at: datetime) -> None:
    await session.execute(update(VideoNode).where(VideoNode.node_id == node_id).values(beat_at=at))


async def other_nodes(session: AsyncSession, me: str) -> list[VideoNode]:
    return list(await session.scalars(select(VideoNode).where(VideoNode.node_id != me)))


async def retire_node(session: AsyncSession, node_id: str, at: datetime | None = None) -> Repair:
    """The node is gone: its open attendance ends at ``at`` (a clean stop) or at its last beat
    (it died), and it leaves the table. Idempotent: a second call finds nothing open."""
    node = await session.get(VideoNode, node_id)
    last_seen = at or (node.beat_at if node is not None else None)
    closed = 0
    if last_seen is not None:
        closed = await close_attendance_of_node(session, node_id, last_seen)
    if node is not None:
        await session.delete(node)
        await session.flush()  # the same id may register again in this unit of work
    return Repair(node_id, last_seen, closed)


async def retire_dead_nodes(
    session: AsyncSession, me: str, alive: Collection[str] | None, stale_before: datetime
) -> list[Repair]:
    """At start-up: every other node not ``alive`` (None: no way to know of others, one process
    only: all of them) whose last beat is older than ``stale_before``."""
    repairs = []
    for node in await other_nodes(session, me):
        if alive is not None and (node.node_id in alive or node.beat_at >= stale_before):
            continue
        repairs.append(await retire_node(session, node.node_id))
    return repairs
