"""Tandem running in-process (TestClient: its lifespan starts the outbox worker), signed in as a
therapist; and small waits and database reads for the tests that drive it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fast_passwords import FAST_HASHER
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.wiring import build_app

T = TypeVar("T")


@contextmanager
def tandem(
    settings: Settings,
    login: tuple[str, str],
    helpers: Any,
    *,
    base_url: str = "http://testserver",
) -> Iterator[TestClient]:
    """One running instance of Tandem, signed in as the therapist ``login`` names."""
    app = build_app(settings)
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        app.state.tandem.passwords.hasher = FAST_HASHER
        helpers.login(client, *login)
        yield client


def on_db(settings: Settings, work: Callable[[Any], Any]) -> Any:
    """Runs ``work(session)`` in one transaction of its own."""

    async def run() -> Any:
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def eventually(check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """The first truthy value ``check`` returns within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met in time: {check()!r}")
