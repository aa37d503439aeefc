"""Fixtures shared by every test folder: real services, or a loud skip (a failure in CI)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

PG_HOST = os.environ.get("TANDEM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TANDEM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TANDEM_TEST_PG_USER", "postgres")
# Shared test tooling lives in tests/support (importable by every test folder).
sys.path.insert(0, str(Path(__file__).parent / "support"))

from services import CHROMIUM, require_chromium, service_missing  # noqa: E402  (on the path only now)

REDIS_URL = os.environ.get("TANDEM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_admin_now(sql: str) -> None:
    # In a thread of its own: the first test to ask may run inside an event loop (Playwright's
    # sync API keeps one running in the main thread), where asyncio.run is refused.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(_pg_admin(sql))).result()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    if not port_open(PG_HOST, PG_PORT):
        service_missing(f"PostgreSQL at {PG_HOST}:{PG_PORT}")
    name = f"tandem_test_{secrets.token_hex(6)}"
    _pg_admin_now(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _pg_admin_now(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    host, _, rest = REDIS_URL.removeprefix("redis://").partition(":")
    port = int(rest.split("/")[0] or 6379)
    if not port_open(host, port):
        service_missing(f"Redis at {host}:{port}")
    return REDIS_URL


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium for the browser tests (tests/e2e, tests/network)."""
    require_chromium()
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright_instance(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
