from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from services import service_missing


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    # `redis_url` (tests/conftest.py) already skips or fails when the port is closed; this also
    # covers a port that is open but does not answer as Redis.
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        service_missing(f"Redis at {redis_url}")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)
