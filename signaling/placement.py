"""Where a new session lives when several nodes share Redis: one strategy, one method.

Each node publishes its load with its heartbeat (signaling/node_registry.py): the sessions it
hosts, the CPU it used over the last interval, its own limits and whether it is draining. A node
without headroom (draining, at its session cap, or over its CPU limit) takes no new session; when
no node has headroom, the session is refused with a clear message (NoCapacity) rather than
placed on a node that would slow every join on it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class NoCapacity(Exception):
    """No node can take a new session now (all draining, full or over their CPU limit)."""


@dataclass(frozen=True)
class NodeLoad:
    sessions: int = 0
    # Cores this node's process used over its last heartbeat interval.
    cpu: float = 0.0
    # None: no limit of that kind.
    cpu_limit: float | None = None
    max_sessions: int | None = None
    draining: bool = False

    @property
    def headroom(self) -> bool:
        if self.draining:
            return False
        if self.max_sessions is not None and self.sessions >= self.max_sessions:
            return False
        return self.cpu_limit is None or self.cpu < self.cpu_limit

    def as_json(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "cpu": round(self.cpu, 3),
            "cpu_limit": self.cpu_limit,
            "max_sessions": self.max_sessions,
            "draining": self.draining,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], sessions: int | None = None) -> NodeLoad:
        """A heartbeat's load; ``sessions`` (counted from the placements, which are current)
        replaces the heartbeat's own count (which lags)."""
        cpu_limit, max_sessions = data.get("cpu_limit"), data.get("max_sessions")
        return cls(
            sessions=int(data.get("sessions", 0)) if sessions is None else sessions,
            cpu=float(data.get("cpu", 0.0)),
            cpu_limit=None if cpu_limit is None else float(cpu_limit),
            max_sessions=None if max_sessions is None else int(max_sessions),
            draining=bool(data.get("draining", False)),
        )


class NodeSelector(Protocol):
    def select(self, me: str, loads: Mapping[str, NodeLoad]) -> str | None:
        """The node to host a new session, given each live node's load; None when no node has
        headroom."""
        ...


class LeastLoadedSelector:
    """Among the nodes with headroom, fewest sessions wins, then least CPU; on a tie the asking
    node keeps it (no hop through Redis)."""

    def select(self, me: str, loads: Mapping[str, NodeLoad]) -> str | None:
        open_nodes = {node: load for node, load in loads.items() if load.headroom}
        if not open_nodes:
            return None
        lowest = min(load.sessions for load in open_nodes.values())
        if me in open_nodes and open_nodes[me].sessions == lowest:
            return me
        fewest = {node: load for node, load in open_nodes.items() if load.sessions == lowest}
        return min(fewest, key=lambda node: (fewest[node].cpu, node))


class Meter(Protocol):
    def read(self) -> float:
        """Cores used lately."""
        ...


class CpuMeter:
    """Cores this process used lately: process time over wall time, averaged with exponential
    weights that fade over ``tau`` seconds. A burst (a few password hashes on the worker
    threads, a recording being finalized) moves it a little; a load that lasts moves it all the
    way within a few ``tau``. A one-second window let a burst of sign-ins close a node."""

    def __init__(
        self,
        tau: float = 10.0,
        *,
        cpu_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu_clock, self._wall_clock = cpu_clock, wall_clock
        self._cpu, self._wall = cpu_clock(), wall_clock()
        self._tau = tau
        self.last = 0.0

    def read(self) -> float:
        cpu, wall = self._cpu_clock(), self._wall_clock()
        elapsed = wall - self._wall
        if elapsed >= 0.05:  # closer readings repeat the last figure
            rate = (cpu - self._cpu) / elapsed
            self.last += (1 - math.exp(-elapsed / self._tau)) * (rate - self.last)
            self._cpu, self._wall = cpu, wall
        return self.last


class NodeGauge:
    """This node's load as it publishes it, and whether it takes a new session."""

    def __init__(
        self,
        sessions: Callable[[], int],
        *,
        cpu_limit: float | None = None,
        max_sessions: int | None = None,
        meter: Meter | None = None,
    ) -> None:
        self._sessions = sessions
        self.cpu_limit = cpu_limit
        self.max_sessions = max_sessions
        self.draining = False
        self._meter: Meter = meter or CpuMeter()

    def load(self) -> NodeLoad:
        return NodeLoad(
            sessions=self._sessions(),
            cpu=self._meter.read(),
            cpu_limit=self.cpu_limit,
            max_sessions=self.max_sessions,
            draining=self.draining,
        )

    def has_room(self) -> bool:
        return self.load().headroom
