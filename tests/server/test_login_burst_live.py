"""A burst of wrong passwords against a real Tandem process: at most the limit is checked, and
a live call's signaling keeps being answered while the burst runs (argon2 is off the loop)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from live import TEST_PASSWORD, LiveServer, create_account, prepare_environment, serving
from protocol_client import CSRF, ProtocolClient, login, start_session

from server.passwords import Passwords

THERAPIST = "burst-therapist@example.test"
TARGET = "burst-target@example.test"
ATTEMPTS = 50
LIMIT = 5


@pytest.fixture(params=["one-process", "two-workers-redis"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    prefix = f"t{secrets.token_hex(4)}:"
    redis_url = request.getfixturevalue("redis_url") if request.param != "one-process" else None
    env = prepare_environment(tmp_path, redis_url=redis_url)
    env["TANDEM_REDIS_PREFIX"] = prefix
    env["TANDEM_LOGIN_MAX_FAILURES"] = str(LIMIT)
    create_account(env, THERAPIST)
    # The target's hash has argon2-cffi's full cost: each check is the real ~64 MiB, 3 passes.
    create_account(env, TARGET, passwords=Passwords())
    workers = ("--workers", "2") if redis_url else ()
    try:
        with serving(env, tmp_path, extra_args=workers) as live:
            yield live
    finally:
        if redis_url:
            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)


async def wrong_password(http: httpx.AsyncClient, token: str) -> int:
    response = await http.post(
        "/login", data={"email": TARGET, "password": "not-the-password", "csrf_token": token}
    )
    return response.status_code


async def test_a_burst_of_wrong_passwords_checks_at_most_the_limit_and_calls_stay_live(
    server: LiveServer,
) -> None:
    therapist_http = login(server.base_url, THERAPIST, TEST_PASSWORD)
    session_id, _ = start_session(therapist_http, title="Burst")
    therapist = ProtocolClient(
        server.base_url, session_id, cookie=therapist_http.cookies["tandem_session"]
    )
    await therapist.join()
    await therapist.expect("welcome")

    pings: list[float] = []
    burst_done = asyncio.Event()

    async def ping_while_burst_runs() -> None:
        while not burst_done.is_set():
            started = time.monotonic()
            await therapist.send({"type": "ping"})
            await therapist.expect("pong", within=5)
            pings.append(time.monotonic() - started)
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        token = CSRF.search((await http.get("/login")).text)
        assert token
        pinger = asyncio.create_task(ping_while_burst_runs())
        await asyncio.sleep(0.2)
        statuses = await asyncio.gather(
            *(wrong_password(http, token.group(1)) for _ in range(ATTEMPTS))
        )
        burst_done.set()
        await pinger

    # Every request that got past the limit had its password checked and failed with 401.
    assert statuses.count(401) == LIMIT, statuses
    assert statuses.count(429) == ATTEMPTS - LIMIT, statuses
    assert len(pings) >= 3
    assert max(pings) < 1.0, pings
    await therapist.close()
    therapist_http.close()
