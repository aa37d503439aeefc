"""Sign-in limits: a sliding window per key, reserved atomically before the password is checked.

A limit that is read before the check and counted after it lets every concurrent attempt through
(50 simultaneous wrong passwords were all checked against a limit of 5). So an attempt *reserves*
its place in every window first, in one atomic step, and only a reserved attempt is checked; a
successful sign-in gives its reservation back. In one process the step is atomic because it has
no await in it; with Redis it is one Lua script, so all processes and hosts share the windows.
"""

from __future__ import annotations

import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Reservation:
    """An attempt's place in each key's window; `retry_after` > 0 means refused (no place)."""

    keys: tuple[str, ...]
    member: str
    retry_after: int = 0

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0


class Limiter(Protocol):
    async def reserve(self, *keys: str) -> Reservation: ...

    async def release(self, reservation: Reservation) -> None: ...

    async def reset(self, *keys: str) -> None: ...


class MemoryLimiter:
    """Windows in this process's memory (one process; with several, each keeps its own)."""

    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[tuple[float, str]]] = {}
        # Keys are pruned when asked about again; a key never asked about again (one address of
        # many) is dropped by a sweep once per window, so memory follows the recent keys only.
        self._next_sweep = clock() + window_seconds

    @property
    def tracked(self) -> int:
        """How many keys have hits held in memory."""
        return len(self._hits)

    def _prune(self, key: str, now: float) -> deque[tuple[float, str]]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0][0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    async def reserve(self, *keys: str) -> Reservation:
        # No await from here to the end: the check and the count are one step on the loop.
        now = self._clock()
        if now >= self._next_sweep:
            for key in list(self._hits):
                self._prune(key, now)
            self._next_sweep = now + self.window
        wait = 0.0
        for key in keys:
            hits = self._prune(key, now)
            if len(hits) >= self.limit:
                wait = max(wait, hits[0][0] + self.window - now)
        member = secrets.token_hex(8)
        if wait > 0:
            return Reservation(keys, member, max(1, math.ceil(wait)))
        for key in keys:
            self._hits.setdefault(key, deque()).append((now, member))
        return Reservation(keys, member)

    async def release(self, reservation: Reservation) -> None:
        for key in reservation.keys:
            hits = self._hits.get(key)
            if hits is None:
                continue
            remaining = deque(hit for hit in hits if hit[1] != reservation.member)
            if remaining:
                self._hits[key] = remaining
            else:
                del self._hits[key]

    async def reset(self, *keys: str) -> None:
        for key in keys:
            self._hits.pop(key, None)


# KEYS: the windows; ARGV: window (ms), limit, member. Redis's own clock, so hosts agree.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local wait = 0
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


class RedisLimiter:
    """Windows in Redis sorted sets (`{prefix}{namespace}:{key}`: `login` for sign-ins, `probe`
    for the join page's connection checks), shared by every process and host."""

    def __init__(
        self, redis: Any, prefix: str, limit: int, window_seconds: float, namespace: str = "login"
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}{namespace}:"
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)
        self._script = redis.register_script(_RESERVE)

    def _names(self, keys: tuple[str, ...]) -> list[str]:
        return [self._prefix + key for key in keys]

    async def reserve(self, *keys: str) -> Reservation:
        member = secrets.token_hex(8)
        wait_ms = int(
            await self._script(keys=self._names(keys), args=[self.window_ms, self.limit, member])
        )
        if wait_ms > 0:
            return Reservation(keys, member, max(1, math.ceil(wait_ms / 1000)))
        return Reservation(keys, member)

    async def release(self, reservation: Reservation) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in self._names(reservation.keys):
                pipe.zrem(name, reservation.member)
            await pipe.execute()

    async def reset(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*self._names(keys))
