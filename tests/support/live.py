"""A real Tandem process (uvicorn) for tests that need the network: WebSockets, browsers, Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fast_passwords import FAST_PASSWORDS

from server.config import load_settings
from server.db import make_engine, make_sessionmaker, transaction
from server.migrate import upgrade
from server.models import UserRole
from server.passwords import Passwords
from server.services.accounts import create_user

TEST_PASSWORD = "live-test-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def prepare_environment(
    tmp: Path, *, database_url: str | None = None, redis_url: str | None = None,
    secret: str | None = None,
) -> dict[str, str]:  # fmt: skip
    env = {
        **os.environ,
        "TANDEM_VAR_DIR": str(tmp / "var"),
        "TANDEM_SECRET_KEY": secret or secrets.token_urlsafe(40),
        "TANDEM_LOG_FORMAT": "text",
        "TANDEM_LOG_LEVEL": "INFO",
        "TANDEM_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp / 'tandem.db'}",
    }
    if redis_url:
        env["TANDEM_REDIS_URL"] = redis_url
    else:
        env.pop("TANDEM_REDIS_URL", None)
    (tmp / "var").mkdir(parents=True, exist_ok=True)
    upgrade(load_settings(env, dotenv=None).database_url)
    return env


def create_account(
    env: dict[str, str],
    email: str,
    role: UserRole = UserRole.therapist,
    passwords: Passwords = FAST_PASSWORDS,
) -> None:
    settings = load_settings(env, dotenv=None)

    async def run() -> None:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            await create_user(
                session, passwords,
                email=email, name="Dr. Test Therapist", password=TEST_PASSWORD, role=role,
            )  # fmt: skip
        await engine.dispose()

    asyncio.run(run())


def prepare_with_therapist(tmp: Path, email: str, **kwargs: str | None) -> dict[str, str]:
    """prepare_environment and a therapist account, in a thread of their own.

    Playwright's sync API keeps an event loop running in the caller's thread; these helpers call
    asyncio.run().
    """

    def prepare() -> dict[str, str]:
        env = prepare_environment(tmp, **kwargs)
        create_account(env, email)
        return env

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(prepare).result()


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(
    env: dict[str, str], tmp: Path, name: str = "server", extra_args: tuple[str, ...] = (),
    *, host: str = "127.0.0.1", wrap: tuple[str, ...] = (),
    ready: Callable[[str], bool] = healthy, port: int | None = None,
) -> LiveServer:  # fmt: skip
    """Start ``tandem serve`` and wait until ``ready(base_url)``.

    ``wrap`` prefixes the command (``ip netns exec NS`` runs the server in a network namespace,
    where ``ready`` must look from too). ``port``: the same one again (a restart), else a free
    one.
    """
    port = port or free_port()
    log_path = tmp / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*wrap, sys.executable, "-m", "server.cli", "serve", "--host", host, "--port", str(port),
         *extra_args],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )  # fmt: skip
    server = LiveServer(f"http://{host}:{port}", env, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        if ready(server.base_url):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.log()}")


@contextlib.contextmanager
def serving(
    env: dict[str, str], tmp: Path, name: str = "server", extra_args: tuple[str, ...] = ()
) -> Iterator[LiveServer]:
    """``start_server``, stopped when the block ends."""
    server = start_server(env, tmp, name, extra_args)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving_with_account(tmp: Path, email: str) -> Iterator[LiveServer]:
    """A fresh database with a therapist ``email`` (password TEST_PASSWORD), served until the
    block ends: a test module's server."""
    env = prepare_environment(tmp)
    create_account(env, email)
    with serving(env, tmp) as server:
        yield server


def relay_metric(base_url: str, name: str) -> float:
    """One of the relay's counters on the server's /metrics (asked from loopback)."""
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))
