"""A signaling node in a process of its own (so that a test can SIGKILL it): a RedisRouter over
the in-memory fakes, hosting the sessions named on the command line.

    python node_process.py REDIS_URL PREFIX NODE_ID SESSION_ID...
Prints "ready" once it is registered and listening, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis
from signaling_fakes import FakeRelay, MemoryBackend, make_router

from signaling.redis_router import RedisRouter


async def serve(redis_url: str, prefix: str, node_id: str, sessions: list[str]) -> None:
    backend = MemoryBackend()
    for session_id in sessions:
        backend.add(session_id)
    client = aioredis.Redis.from_url(redis_url)
    router = RedisRouter(
        make_router(backend, FakeRelay()), client, node_id, prefix=prefix, heartbeat_interval=0.5
    )
    await router.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, prefix, node, *ids = sys.argv[1:]
    asyncio.run(serve(url, prefix, node, ids))
