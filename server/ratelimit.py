"""Sliding-window limiter for sign-in attempts, held by the app (not the module)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt, 0 when allowed."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            hits = self._prune(key, now)
            if len(hits) >= self.limit:
                wait = max(wait, hits[0] + self.window - now)
        return math.ceil(wait) if wait > 0 else 0

    def hit(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._prune(key, now)
            self._hits.setdefault(key, deque()).append(now)

    def reset(self, *keys: str) -> None:
        for key in keys:
            self._hits.pop(key, None)
