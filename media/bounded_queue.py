"""A bounded queue that drops the oldest item: forwarded media is only worth having fresh."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Single-consumer queue that never grows past ``capacity``: the oldest item goes first.

    Forwarded media is only useful fresh; a consumer that falls behind must cost bounded memory
    (aiortc's own track queues are unbounded, aiortc issue 680).
    """

    def __init__(self, capacity: int, on_drop: Callable[[], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._items: deque[T] = deque()
        self._capacity = capacity
        self._on_drop = on_drop
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def qsize(self) -> int:
        return len(self._items)

    def full(self) -> bool:
        return len(self._items) >= self._capacity

    def put_nowait(self, item: T) -> None:
        if len(self._items) >= self._capacity:
            self._items.popleft()
            self._count_drops(1)
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> int:
        dropped = len(self._items)
        self._items.clear()
        self._count_drops(dropped)
        return dropped

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> T:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def _count_drops(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            for _ in range(count):
                self._on_drop()
