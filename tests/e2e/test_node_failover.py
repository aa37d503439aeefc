"""Several nodes on Redis, and the one hosting a live call is killed (SIGKILL): both pages are
back in the call on a live node within 15 s, the parent without a second admission.

Twice: `tandem serve --workers 2` (uvicorn's supervisor announces the dead worker), and two
`tandem serve` processes on PostgreSQL behind HAProxy (no supervisor: the reconnecting clients
and the nodes' own checks find the dead node).

And the planned version: `tandem drain` on the node hosting a recorded call, behind HAProxy:
both pages back on the other node within 10 s without a second admission, the recording
stopped and finalized, playable from the other node, the drained node gone by itself."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from e2e_flows import (
    Live,
    Participant,
    start_call_with_parent,
    wait_frames_growing,
    wait_recording_state,
    wait_until,
)
from failover import (
    assert_files_play,
    attendance_rows,
    browsers_for,
    files_of,
    indicator_history,
    record_a_while,
    same_call_no_second_admission,
    wait_both_back,
    watch,
)
from haproxy import haproxy_config
from live import TEST_PASSWORD, LiveServer, free_port, prepare_with_therapist, start_server
from protocol_client import login
from redis_text import text
from services import service_missing

pytestmark = pytest.mark.browser

EMAIL = "failover@example.test"


@dataclass
class Deployment:
    """What the browsers reach (one address) and the processes behind it."""

    base_url: str
    env: dict[str, str]
    prefix: str
    servers: list[LiveServer]
    logs: list[Path]
    # The therapist's account: one per deployment (the PostgreSQL database is the run's).
    email: str = EMAIL

    def log(self) -> str:
        return "\n".join(f"===== {p.name}\n{p.read_text(errors='replace')}" for p in self.logs)


def environment(
    tmp: Path, redis_url: str, database_url: str | None = None, email: str = EMAIL
) -> dict[str, str]:
    kwargs = {"redis_url": redis_url, "database_url": database_url}
    env = prepare_with_therapist(tmp, email, **kwargs)
    env["TANDEM_REDIS_PREFIX"] = f"t{secrets.token_hex(4)}:"
    return env


def wait_nodes(store: redis.Redis, prefix: str, count: int) -> list[str]:
    """Until `count` nodes registered (placement chooses among registered nodes only)."""

    def registered() -> list[str] | None:
        nodes = [text(k) for k in store.hkeys(f"{prefix}nodes")]
        return nodes if len(nodes) >= count else None

    return wait_until(registered, 30, f"{count} nodes never registered")


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def workers(
    tmp_path: Path, redis_url: str, store: redis.Redis, chromium: str
) -> Iterator[Deployment]:
    env = environment(tmp_path, redis_url)
    server = start_server(env, tmp_path, extra_args=("--workers", "2"))
    deployment = Deployment(server.base_url, env, env["TANDEM_REDIS_PREFIX"], [server],
                            [server.log_path])  # fmt: skip
    try:
        wait_nodes(store, deployment.prefix, 2)
        yield deployment
    finally:
        server.stop()
        store.delete(*store.keys(f"{deployment.prefix}*") or ["none"])


@pytest.fixture
def behind_haproxy(
    tmp_path: Path, redis_url: str, postgres_url: str, store: redis.Redis, chromium: str
) -> Iterator[Deployment]:
    if shutil.which("haproxy") is None:
        service_missing("HAProxy (the Debian package haproxy)")
    email = f"failover-{secrets.token_hex(4)}@example.test"
    env = environment(tmp_path, redis_url, postgres_url, email)
    nodes = [start_server(env, tmp_path, f"node{i}") for i in (1, 2)]
    port = free_port()
    servers = {f"n{i}": n.base_url.removeprefix("http://") for i, n in enumerate(nodes, 1)}
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(f"127.0.0.1:{port}", servers))
    log = tmp_path / "haproxy.log"
    proxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)],
                             stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(base, env, env["TANDEM_REDIS_PREFIX"], nodes,
                            [n.log_path for n in nodes] + [log], email)  # fmt: skip
    try:
        wait_until(lambda: _healthy(base), 20, lambda: f"HAProxy never served: {log.read_text()}")
        wait_nodes(store, deployment.prefix, 2)
        yield deployment
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        for node in nodes:
            node.stop()
        store.delete(*store.keys(f"{deployment.prefix}*") or ["none"])


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def launcher(
    deployment: Deployment, playwright: Any, cameras: dict[str, Path], request: Any
) -> Iterator[Callable[[str], Participant]]:
    return browsers_for(playwright, cameras, request, deployment.log)


@pytest.fixture
def launch_workers(
    workers: Deployment, playwright_instance: Any, cameras: dict[str, Path],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Participant]]:  # fmt: skip
    yield from launcher(workers, playwright_instance, cameras, request)


@pytest.fixture
def launch_haproxy(
    behind_haproxy: Deployment, playwright_instance: Any, cameras: dict[str, Path],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Participant]]:  # fmt: skip
    yield from launcher(behind_haproxy, playwright_instance, cameras, request)


def kill_the_host_and_come_back(
    deployment: Deployment,
    launch: Callable[[str], Participant],
    store: redis.Redis,
    kill: Callable[[int], None],
) -> dict[str, Any]:
    """The shared scenario; returns what the test checks further (the events seen)."""
    live = Live(deployment, deployment.email)
    therapist, parent, ids = start_call_with_parent(live, launch, "Failover e2e")
    t_id, p_id, session_id = ids["therapist_id"], ids["parent_id"], ids["id"]
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    prefix = deployment.prefix
    owner = store.hget(f"{prefix}session_node", session_id)
    assert owner is not None
    dead = text(owner)
    events = store.pubsub()
    events.subscribe(f"{prefix}events")
    for person in (therapist, parent):
        watch(person)

    killed_at, killed = datetime.now(UTC), time.monotonic()
    kill(int(dead.rsplit("-", 1)[1]))
    back = wait_both_back([(therapist, p_id), (parent, t_id)], 15, killed)
    # What a node's death costs a call (docs/operations.md): printed with -s.
    print(f"back in the call after the kill: {back}")

    same_call_no_second_admission(therapist, parent, t_id, p_id)
    new_owner = store.hget(f"{prefix}session_node", session_id)
    assert new_owner is not None
    assert text(new_owner) != dead
    assert not store.hexists(f"{prefix}nodes", dead)

    # The dead node's attendance ended at its last heartbeat, not later.
    rows = attendance_rows(deployment.env, session_id)
    before = [r for r in rows if r[1] < killed_at]
    assert sorted(r[0] for r in before) == sorted([t_id, p_id]), rows
    assert all(r[2] is not None and r[2] <= killed_at for r in before), rows
    assert all(r[2] >= killed_at - timedelta(seconds=6) for r in before), rows

    seen = []
    while (message := events.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            seen.append(json.loads(message["data"]))
    events.close()
    return {"dead": dead, "events": seen}


def test_a_worker_that_dies_hands_its_calls_to_the_other(
    workers: Deployment, launch_workers: Callable[[str], Participant], store: redis.Redis
) -> None:
    outcome = kill_the_host_and_come_back(
        workers, launch_workers, store, lambda pid: os.kill(pid, signal.SIGKILL)
    )
    dead = outcome["dead"]
    ops = [(e["op"], e["node"]) for e in outcome["events"]]
    # The supervisor announced it, then one node declared it dead (once).
    assert ("node_exited", dead) in ops
    assert ops.count(("node_down", dead)) == 1


def test_a_node_that_dies_behind_haproxy_hands_its_calls_to_the_other(
    behind_haproxy: Deployment, launch_haproxy: Callable[[str], Participant], store: redis.Redis
) -> None:
    by_pid = {s.process.pid: s for s in behind_haproxy.servers}

    def kill(pid: int) -> None:
        by_pid[pid].process.send_signal(signal.SIGKILL)
        by_pid[pid].process.wait(timeout=10)

    outcome = kill_the_host_and_come_back(behind_haproxy, launch_haproxy, store, kill)
    downs = [e for e in outcome["events"] if e["op"] == "node_down"]
    assert [e["node"] for e in downs] == [outcome["dead"]]
    print(f"declared dead because: {downs[0]['why']}")


def health_until_exit(server: LiveServer, timeout: float) -> list[int]:
    """The node's /healthz answers (status codes) until its process exits by itself."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while server.process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            seen.append(httpx.get(f"{server.base_url}/healthz", timeout=1).status_code)
        time.sleep(0.05)
    return seen


def test_a_drained_node_hands_its_recorded_call_to_the_other_without_cutting_it(
    behind_haproxy: Deployment, launch_haproxy: Callable[[str], Participant], store: redis.Redis
) -> None:
    deployment = behind_haproxy
    live = Live(deployment, deployment.email)
    therapist, parent, ids = start_call_with_parent(live, launch_haproxy, "Drain e2e")
    t_id, p_id, session_id = ids["therapist_id"], ids["parent_id"], ids["id"]
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    record_a_while(therapist, parent, 4)
    for person in (therapist, parent):
        watch(person)
    owner = store.hget(f"{deployment.prefix}session_node", session_id)
    assert owner is not None
    drained_id = text(owner)
    by_pid = {s.process.pid: s for s in deployment.servers}
    drained = by_pid[int(drained_id.rsplit("-", 1)[1])]
    (other,) = [s for s in deployment.servers if s is not drained]

    started = time.monotonic()
    command = [sys.executable, "-m", "server.cli", "drain", "--node", drained_id,
               "--deadline", "30"]  # fmt: skip
    drain = subprocess.Popen(
        command, env=deployment.env, cwd=drained.log_path.parent,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    with ThreadPoolExecutor(1) as pool:
        health = pool.submit(health_until_exit, drained, 60)
        back = wait_both_back([(therapist, p_id), (parent, t_id)], 10, started)
        print(f"back in the call after tandem drain: {back}")
        statuses = health.result()
    output, _ = drain.communicate(timeout=90)
    assert drain.returncode == 0, output + drained.log()
    assert f"{drained_id} drained and stopped" in output
    # It stopped by itself, as on SIGTERM (uvicorn ends by re-raising the signal it handled);
    # while it drained, the load balancer was told to go away.
    assert drained.process.wait(timeout=60) in (0, -signal.SIGTERM), drained.log()
    assert 503 in statuses, statuses
    assert "node drained: stopping" in drained.log()

    same_call_no_second_admission(therapist, parent, t_id, p_id)
    new_owner = store.hget(f"{deployment.prefix}session_node", session_id)
    assert new_owner is not None
    assert text(new_owner) != drained_id
    # The recording stopped with the move (a new one needs everyone's consent again).
    for person in (therapist, parent):
        wait_recording_state(person, "stopped")
        states = [x.split("|")[0] for x in indicator_history(person)]
        # Ticking until the move; from then on never claimed again.
        moved = next(i for i, state in enumerate(states) if state != "recording")
        assert not {"recording", "paused"} & set(states[moved:]), states

    # Attendance is continuous: each one's stretch on the drained node ended as they moved, a
    # new one is open on the other.
    rows = attendance_rows(deployment.env, session_id)
    assert sorted(r[0] for r in rows if r[2] is None) == sorted([t_id, p_id]), rows
    assert len(rows) == 4, rows
    for pid in (t_id, p_id):
        old, new = [r for r in rows if r[0] == pid]
        assert old[2] is not None, rows
        assert old[2] <= new[1] + timedelta(seconds=2), rows

    # The recording made on the drained node was finalized there and plays from the other one.
    http = login(other.base_url, deployment.email, TEST_PASSWORD)
    http.timeout = httpx.Timeout(60)
    try:
        files = [f for f in files_of(http, session_id) if f["status"] == "finalized"]
        assert len(files) == 2, files_of(http, session_id)
        assert_files_play(http, files)
    finally:
        http.close()
