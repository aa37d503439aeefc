"""`tandem serve --workers N`: N full Tandem nodes behind one port, sessions placed on the least
loaded, a socket on any worker reaching its session."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from live import TEST_PASSWORD, LiveServer, create_account, prepare_environment, serving
from live_call import admit, join_token
from protocol_client import ProtocolClient, login, start_session
from redis_text import text

EMAIL = "workers@example.test"


def test_workers_without_redis_refuse_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "TANDEM_VAR_DIR": str(tmp_path)}
    env.pop("TANDEM_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--workers", "2"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "TANDEM_REDIS_URL" in result.stderr


@pytest.fixture
def workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[LiveServer, str]]:
    prefix = f"t{secrets.token_hex(4)}:"
    env = prepare_environment(tmp_path, redis_url=redis_url)
    env["TANDEM_REDIS_PREFIX"] = prefix
    create_account(env, EMAIL)
    try:
        with serving(env, tmp_path, extra_args=("--workers", "2")) as server:
            yield server, prefix
    finally:
        r = redis.Redis.from_url(redis_url)
        r.delete(f"{prefix}nodes", f"{prefix}session_node")


async def test_sessions_spread_over_workers_and_calls_work(
    workers: tuple[LiveServer, str], redis_url: str
) -> None:
    server, prefix = workers
    store = redis.Redis.from_url(redis_url)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    clients: list[ProtocolClient] = []
    try:
        # Both workers must be registered before placement can choose between them.
        for _ in range(100):
            if len(store.hkeys(f"{prefix}nodes")) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(store.hkeys(f"{prefix}nodes")) == 2
        sessions = []
        for i in range(4):
            session_id, urls = start_session(http, title=f"Spread {i}")
            therapist = ProtocolClient(
                server.base_url, session_id, cookie=http.cookies["tandem_session"]
            )
            clients.append(therapist)
            await therapist.join()
            await therapist.expect("welcome")
            sessions.append((session_id, urls, therapist))
        owners = Counter(store.hvals(f"{prefix}session_node"))  # worker id -> sessions
        assert sorted(owners.values()) == [2, 2], owners
        # A full call in the last session, wherever its sockets and its media landed.
        session_id, urls, therapist = sessions[-1]
        parent = ProtocolClient(
            server.base_url, session_id, token=join_token(urls["parent"]), tone_hz=660
        )
        clients.append(parent)
        await admit(therapist, parent)
        await therapist.wait_media_from(parent.participant_id or "", frames=10)
        await parent.wait_media_from(therapist.participant_id or "", frames=10)
    finally:
        for client in clients:
            await client.close()
        http.close()


async def test_the_supervisor_announces_a_dead_worker_and_its_session_moves(
    workers: tuple[LiveServer, str], redis_url: str
) -> None:
    """uvicorn's supervisor sees a worker die within ~0.5 s; ours says so on the events
    channel, and a live worker declares the node dead and drops its placements."""
    server, prefix = workers
    store = redis.Redis.from_url(redis_url)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    events = store.pubsub()
    therapist: ProtocolClient | None = None
    try:
        for _ in range(100):
            if len(store.hkeys(f"{prefix}nodes")) >= 2:
                break
            await asyncio.sleep(0.1)
        session_id, _ = start_session(http, title="Dies")
        therapist = ProtocolClient(
            server.base_url, session_id, cookie=http.cookies["tandem_session"]
        )
        await therapist.join()
        await therapist.expect("welcome")
        owner = store.hget(f"{prefix}session_node", session_id)
        assert owner is not None
        dead = text(owner)
        events.subscribe(f"{prefix}events")
        os.kill(int(dead.rsplit("-", 1)[1]), signal.SIGKILL)
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + 10
        wanted = {("node_exited", dead), ("node_down", dead)}
        while not wanted <= set(seen) and time.monotonic() < deadline:
            message = await asyncio.to_thread(events.get_message, timeout=0.5)
            if message is not None and message["type"] == "message":
                event = json.loads(message["data"])
                seen.append((event["op"], event["node"]))
        # Declared once, whichever signal got there first (the supervisor's, within ~0.5 s,
        # or a sweep).
        assert wanted <= set(seen), seen
        assert seen.count(("node_down", dead)) == 1, seen
        assert store.hget(f"{prefix}session_node", session_id) is None
        assert not store.hexists(f"{prefix}nodes", dead)
    finally:
        events.close()
        if therapist is not None:
            await therapist.close()
        http.close()


def test_tandem_drain_stops_every_worker_of_the_host_and_the_supervisor(
    tmp_path: Path, redis_url: str
) -> None:
    """A host taken out of service: its workers drain, none is started again, and `tandem
    serve --workers 2` ends by itself."""
    prefix = f"t{secrets.token_hex(4)}:"
    env = prepare_environment(tmp_path, redis_url=redis_url)
    env["TANDEM_REDIS_PREFIX"] = prefix
    env["TANDEM_HOST_NAME"] = f"host-{secrets.token_hex(3)}"
    store = redis.Redis.from_url(redis_url)
    server = serving(env, tmp_path, extra_args=("--workers", "2"))
    try:
        with server as running:
            deadline = time.monotonic() + 30
            while len(store.hkeys(f"{prefix}nodes")) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            workers = sorted(text(k) for k in store.hkeys(f"{prefix}nodes"))
            assert len(workers) == 2
            result = subprocess.run(
                [sys.executable, "-m", "server.cli", "drain", "--deadline", "10"],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout + result.stderr
            for worker in workers:
                assert f"{worker} drained and stopped" in result.stdout
            assert running.process.wait(timeout=30) == 0, running.log()
            assert "not starting it again" in running.log()
            assert "every worker drained: stopping" in running.log()
            assert store.hlen(f"{prefix}nodes") == 0
    finally:
        store.delete(f"{prefix}nodes", f"{prefix}session_node", f"{prefix}drained")


def test_tandem_drain_without_a_node_of_that_host_says_so(tmp_path: Path, redis_url: str) -> None:
    env = prepare_environment(tmp_path, redis_url=redis_url)
    env["TANDEM_REDIS_PREFIX"] = f"t{secrets.token_hex(4)}:"
    env["TANDEM_HOST_NAME"] = "nobody-here"
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "drain"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no node of host 'nobody-here'" in result.stderr
