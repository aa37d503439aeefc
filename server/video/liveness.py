"""This process as a node in the database: its heartbeat, and the repairs for nodes that
stopped without closing their sessions (server/services/video/nodes.py).

- At start-up: every other node that is not alive (one process without Redis: every other
  node; with Redis: those Redis does not know alive and whose last beat is old) is retired:
  the attendance stretches it left open end at its last beat.
- When Redis tells this node it declared another dead: the same, at once.
- On a clean stop: this node's own open stretches end now (the sessions go on elsewhere or
  after the restart, in new stretches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import transaction, utcnow
from server.services.video.nodes import Repair, beat, register_node, retire_dead_nodes, retire_node
from server.services.video.sessions import close_attendance_of_node

log = logging.getLogger(__name__)

# How often a node writes its heartbeat: how far past a death attendance can run on.
BEAT_SECONDS = 5.0


def node_id_of(pid: int | None = None) -> str:
    """A process's node id (the same in Redis): its host and pid. A supervising process names
    a worker that died by it."""
    return f"{socket.gethostname()}-{os.getpid() if pid is None else pid}"


class NodeLiveness:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        node_id: str,
        interval: float = BEAT_SECONDS,
    ) -> None:
        self._db = db
        self.node_id = node_id
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(
        self, alive: Callable[[], Awaitable[Collection[str]]] | None = None
    ) -> list[Repair]:
        """Register, retire the dead (``alive``: the nodes known alive, or None when this
        process is the only one), then beat until stopped."""
        now = utcnow()
        async with transaction(self._db) as session:
            # The same id as a process before this one (a container's pid repeats after a
            # restart): that one is dead, whatever it left open ends at its last beat.
            earlier = await retire_node(session, self.node_id)
            await register_node(session, self.node_id, now)
        if earlier.last_seen is not None:
            self._log(earlier, "found dead at start-up (same id)")
        known = await alive() if alive is not None else None
        async with transaction(self._db) as session:
            # With Redis, a node missing there but beating here is alive all the same (Redis
            # was flushed, or it is starting): only an old beat counts as death.
            stale = now - timedelta(seconds=3 * self._interval)
            repairs = await retire_dead_nodes(session, self.node_id, known, stale)
        for repair in repairs:
            self._log(repair, "found dead at start-up")
        self._task = asyncio.create_task(self._beat())
        return repairs

    async def node_died(self, node_id: str) -> Repair:
        async with transaction(self._db) as session:
            repair = await retire_node(session, node_id)
        self._log(repair, "declared dead")
        return repair

    async def end_stretches(self) -> int:
        """This node hosts nothing any more (it drained): the attendance stretches it opened end
        now, not when its process finally stops (after finalizing recordings), which would
        overlap the stretches the participants opened on the node that took their session."""
        async with transaction(self._db) as session:
            return await close_attendance_of_node(session, self.node_id, utcnow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with transaction(self._db) as session:
            await retire_node(session, self.node_id, utcnow())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                async with transaction(self._db) as session:
                    await beat(session, self.node_id, utcnow())
            except Exception:
                log.exception("node heartbeat in the database failed")

    def _log(self, repair: Repair, how: str) -> None:
        log.warning(
            "node %s %s: %d attendance stretches closed at its last heartbeat",
            repair.node_id,
            how,
            repair.attendance_closed,
            extra={
                "node": repair.node_id,
                "last_seen": repair.last_seen.isoformat() if repair.last_seen else None,
            },
        )
