from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

# The shared fakes live next to the tests; test folders are not packages (importlib mode).
sys.path.insert(0, str(Path(__file__).parent))


def require_or_skip(what: str) -> None:
    """Skip on a bare machine; with TANDEM_REQUIRE_SERVICES=1 (CI) the skip becomes a failure."""
    if os.environ.get("TANDEM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (TANDEM_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    # `redis_url` (tests/conftest.py) already skips or fails when the port is closed; this also
    # covers a port that is open but does not answer as Redis.
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        require_or_skip(f"Redis at {redis_url}")
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
