"""Sign-in windows: an attempt reserves its place before the password is checked, atomically,
in one process (MemoryLimiter) and across processes (RedisLimiter on the real Redis)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest

from server.ratelimit import Limiter, MemoryLimiter, RedisLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    if request.param == "memory":
        yield MemoryLimiter(5, 2.0)
        return
    import redis.asyncio as aioredis

    client = aioredis.from_url(request.getfixturevalue("redis_url"))
    prefix = f"test-{secrets.token_hex(4)}:"
    try:
        yield RedisLimiter(client, prefix, 5, 2.0)
    finally:
        keys = await client.keys(prefix + "*")
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_fifty_simultaneous_attempts_get_five_places(limiter: Limiter) -> None:
    results = await asyncio.gather(*(limiter.reserve("email:a", "ip:1") for _ in range(50)))
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 5
    assert all(0 < r.retry_after <= 2 for r in results if not r.allowed)


async def test_a_full_address_window_refuses_another_account(limiter: Limiter) -> None:
    for i in range(5):
        assert (await limiter.reserve(f"email:{i}", "ip:1")).allowed
    refused = await limiter.reserve("email:new", "ip:1")
    assert not refused.allowed
    # A refused attempt takes no place: the other key's window is still empty.
    assert (await limiter.reserve("email:new", "ip:2")).allowed


async def test_a_released_reservation_gives_its_place_back(limiter: Limiter) -> None:
    first = await limiter.reserve("email:a", "ip:1")
    for _ in range(4):
        await limiter.reserve("email:a", "ip:1")
    assert not (await limiter.reserve("email:a", "ip:1")).allowed
    await limiter.release(first)
    assert (await limiter.reserve("email:a", "ip:1")).allowed


async def test_reset_empties_one_key_only(limiter: Limiter) -> None:
    for _ in range(5):
        await limiter.reserve("email:a", "ip:1")
    await limiter.reset("email:a")
    assert (await limiter.reserve("email:a", "ip:2")).allowed
    assert not (await limiter.reserve("email:b", "ip:1")).allowed


async def test_places_come_back_when_the_window_slides() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(2, 10.0, clock=clock)
    await limiter.reserve("k")
    clock.now += 4
    await limiter.reserve("k")
    refused = await limiter.reserve("k")
    assert refused.retry_after == 6
    clock.now += 6
    assert (await limiter.reserve("k")).allowed


async def test_keys_nobody_asks_about_again_are_dropped_after_a_window() -> None:
    # Each of many addresses asks once (the join page's checks reserve before the link is
    # checked): memory must not keep one entry per address that ever came.
    clock = FakeClock()
    limiter = MemoryLimiter(2, 10.0, clock=clock)
    for n in range(1000):
        await limiter.reserve(f"ip:{n}")
    assert limiter.tracked == 1000
    clock.now += 5
    await limiter.reserve("ip:late")
    assert limiter.tracked == 1001  # still in their window
    clock.now += 5.5
    await limiter.reserve("ip:now")
    assert limiter.tracked == 2  # "ip:late" and "ip:now"


@pytest.mark.redis
async def test_redis_windows_slide_on_the_servers_clock(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    limiter = RedisLimiter(client, f"test-{secrets.token_hex(4)}:", 1, 0.5)
    try:
        assert (await limiter.reserve("k")).allowed
        assert not (await limiter.reserve("k")).allowed
        await asyncio.sleep(0.6)
        assert (await limiter.reserve("k")).allowed
    finally:
        await limiter.reset("k")
        await client.aclose()


async def test_connection_checks_share_one_window_across_processes_apart_from_sign_ins(
    redis_url: str,
) -> None:
    """Two processes answering the join page's connection checks (two clients of the real
    Redis) count one window per link; sign-ins under the same key are another window."""
    import redis.asyncio as aioredis

    prefix = f"test-{secrets.token_hex(4)}:"
    clients = [aioredis.from_url(redis_url) for _ in range(2)]
    try:
        first, second = (RedisLimiter(c, prefix, 3, 60, namespace="probe") for c in clients)
        for limiter in (first, second, first):
            assert (await limiter.reserve("link:abc")).allowed
        assert not (await second.reserve("link:abc")).allowed
        assert not (await first.reserve("link:abc")).allowed
        sign_in = RedisLimiter(clients[0], prefix, 3, 60)
        assert (await sign_in.reserve("link:abc")).allowed
    finally:
        keys = await clients[0].keys(prefix + "*")
        if keys:
            await clients[0].delete(*keys)
        for c in clients:
            await c.aclose()
