"""Stopping background tasks that talk to Redis or a database.

A cancellation can be lost on its way through a library: redis-py turns one that lands in the
middle of a command into a connection error, and a loop that logs `Exception` and carries on
then sleeps again as if nothing had happened. Awaiting such a task after one `cancel()` hangs
whatever is shutting down (seen: a node's close() waiting forever on its heartbeat). So loops
check `cancelled()` before they carry on after an error, and shutdown uses `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)


def cancelled() -> bool:
    """Has the running task been asked to stop (even if a library swallowed the request)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop(task: asyncio.Task[Any], *, tries: int = 3, wait: float = 2.0) -> None:
    """Cancel ``task`` and wait until it ends; cancel again if the request was lost, and give up
    with a warning after ``tries`` rather than hang."""
    for _ in range(tries):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=wait)
    if not task.done():
        log.warning("task %s did not stop after %d cancellations", task.get_name(), tries)
        return
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()  # retrieved, so asyncio does not log it as never retrieved
