"""The workers of a `tandem serve --workers N` relay as Redis lists them.

Each worker is a node of signaling/redis_router.py: it writes itself into `{prefix}nodes` (node
id `{hostname}-{pid}`) when it starts, and new sessions are placed on the least-loaded node. A
benchmark run gets a key prefix of its own, so concurrent runs and tests never share nodes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping

import redis

from server.config import ENV_PREFIX

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The relay's Redis settings: the caller's URL (or the local default), a fresh prefix."""
    return {
        ENV_PREFIX + "REDIS_URL": environ.get(ENV_PREFIX + "REDIS_URL") or DEFAULT_REDIS_URL,
        ENV_PREFIX + "REDIS_PREFIX": f"bench:{secrets.token_hex(8)}:",
    }


class Nodes:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        # The registry hash of signaling/redis_router.py (docs/signaling.md, "Redis keys").
        self._nodes_key = f"{prefix}nodes"

    def pids(self) -> list[int]:
        """Process ids of the registered nodes (their ids end in `-{pid}`)."""
        ids = [str(key) for key in self._redis.hkeys(self._nodes_key)]
        return sorted(int(node.rpartition("-")[2]) for node in ids)

    def wait_for(self, count: int, alive: Callable[[], bool], timeout: float = 60.0) -> list[int]:
        """The workers' pids once all ``count`` have registered: before that, /healthz may
        already answer while every session would still be placed on the first worker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            found = self.pids()
            if len(found) >= count:
                return found
            time.sleep(0.2)
        raise RuntimeError(f"{count} relay workers did not all register in Redis")

    def clear(self) -> None:
        """Deletes every key of the run's prefix (a killed worker leaves its entries behind)."""
        try:
            keys = list(self._redis.scan_iter(match=f"{self._prefix}*"))
            if keys:
                self._redis.delete(*keys)
        finally:
            self._redis.close()
