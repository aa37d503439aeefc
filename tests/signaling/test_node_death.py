"""A node that dies (SIGKILL: no goodbye) is found out fast, and its sessions move on.

The signals, fastest first: a supervising process saw its worker exit (`node_exited`); a
message to it reached nobody (PUBLISH answered 0: its pub/sub connection closed with it); a
sweep found its channel empty; its heartbeat went stale (the fallback)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from signaling_fakes import Client, FakeRelay, MemoryBackend, eventually, make_router

from signaling.node_registry import NodeDown, events_channel, exit_notice
from signaling.ports import TherapistIdentity
from signaling.redis_router import RedisRouter

pytestmark = pytest.mark.redis

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")
HERE = Path(__file__).parent


class Node:
    """A live node in this process, with the node-down events it declared."""

    def __init__(self, client: aioredis.Redis, prefix: str, node_id: str) -> None:
        self.backend = MemoryBackend()
        for session_id in ("s1", "s2"):
            self.backend.add(session_id)
        self.router = RedisRouter(
            make_router(self.backend, FakeRelay()),
            client,
            node_id,
            prefix=prefix,
            heartbeat_interval=0.3,
        )
        self.declared: list[NodeDown] = []

        async def record(down: NodeDown) -> None:
            self.declared.append(down)

        self.router.add_node_down_listener(record)


@pytest.fixture
async def node1(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Node]:
    node = Node(redis_client, redis_prefix, "node1")
    await node.router.start()
    yield node
    await node.router.close()


@pytest.fixture
def spawn(redis_url: str, redis_prefix: str) -> Iterator[list[subprocess.Popen[str]]]:
    """Starts node processes (killed afterwards if the test did not)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def start_node(
    spawn: list[subprocess.Popen[str]], redis_url: str, prefix: str, node_id: str
) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.getcwd()])}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "node_process.py"), redis_url, prefix, node_id, "s1"],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    spawn.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


async def therapist_on(node: Node) -> Client:
    therapist = Client(node.router, "s1", THERAPIST)
    await therapist.join()
    await therapist.conn.wait_for("welcome")
    return therapist


async def forwarded_call(node1: Node, redis_client: aioredis.Redis, prefix: str) -> Client:
    """The therapist's socket on node 1, the session on node 2 (another process)."""
    await redis_client.hset(f"{prefix}session_node", "s1", "node2")
    return await therapist_on(node1)


async def test_a_message_that_reaches_nobody_declares_the_owner_dead_and_moves_the_socket(
    node1: Node,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    redis_url: str,
    spawn: list[subprocess.Popen[str]],
) -> None:
    node2 = start_node(spawn, redis_url, redis_prefix, "node2")
    therapist = await forwarded_call(node1, redis_client, redis_prefix)
    assert node1.router.local.get_host("s1") is None
    node2.send_signal(signal.SIGKILL)
    node2.wait(timeout=10)
    # Its heartbeat is still fresh: only the empty channel gives the death away.
    raw = await redis_client.hget(f"{redis_prefix}nodes", "node2")
    assert raw is not None
    assert time.time() - json.loads(raw)["heartbeat_at"] < 5

    await therapist.send(type="ping")
    closed = await therapist.conn.wait_closed()
    assert closed == (1012, "session moved")
    assert [(d.node_id, d.sessions) for d in node1.declared] == [("node2", ("s1",))]
    assert await redis_client.hget(f"{redis_prefix}session_node", "s1") is None
    assert await redis_client.hget(f"{redis_prefix}nodes", "node2") is None

    # The client reconnects at once and the session is placed on a live node: this one.
    again = Client(node1.router, "s1", THERAPIST)
    await again.join()
    assert (await again.conn.wait_for("welcome"))["lobby"] is False
    assert node1.router.local.get_host("s1") is not None


async def test_a_silent_death_is_found_by_the_sweep_without_any_traffic(
    node1: Node,
    redis_client: aioredis.Redis,
    redis_prefix: str,
    redis_url: str,
    spawn: list[subprocess.Popen[str]],
) -> None:
    node2 = start_node(spawn, redis_url, redis_prefix, "node2")
    therapist = await forwarded_call(node1, redis_client, redis_prefix)
    node2.send_signal(signal.SIGKILL)
    node2.wait(timeout=10)
    # Nothing sent: node 1's sweep (every 0.3 s here) finds node 2's channel empty.
    assert await therapist.conn.wait_closed() == (1012, "session moved")
    assert [d.node_id for d in node1.declared] == ["node2"]


async def test_a_connection_to_a_session_of_a_dead_node_is_placed_on_a_live_one(
    node1: Node, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    # A node that died a moment ago: fresh heartbeat, nobody on its channel.
    ghost = {"node_id": "ghost", "started_at": time.time() - 60, "heartbeat_at": time.time()}
    await redis_client.hset(f"{redis_prefix}nodes", "ghost", json.dumps(ghost))
    await redis_client.hset(f"{redis_prefix}session_node", "s1", "ghost")
    therapist = Client(node1.router, "s1", THERAPIST)
    await therapist.join()
    assert (await therapist.conn.wait_for("welcome"))["lobby"] is False
    assert await redis_client.hget(f"{redis_prefix}session_node", "s1") == b"node1"
    assert [(d.node_id, d.sessions) for d in node1.declared] == [("ghost", ("s1",))]


async def test_a_supervisors_notice_is_acted_on_once_across_the_nodes(
    node1: Node, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node2 = Node(redis_client, redis_prefix, "node2")
    await node2.router.start()
    try:
        ghost = {"node_id": "w3", "started_at": time.time(), "heartbeat_at": time.time()}
        await redis_client.hset(f"{redis_prefix}nodes", "w3", json.dumps(ghost))
        await redis_client.hset(f"{redis_prefix}session_node", "s2", "w3")
        await redis_client.publish(events_channel(redis_prefix), exit_notice("w3"))

        async def declared() -> bool:
            return bool(node1.declared or node2.declared)

        await eventually(declared)
        await asyncio.sleep(0.5)  # a second declaration would have landed by now
        downs = node1.declared + node2.declared
        assert [(d.node_id, d.sessions) for d in downs] == [("w3", ("s2",))]
        assert await redis_client.hget(f"{redis_prefix}session_node", "s2") is None
    finally:
        await node2.router.close()


async def test_a_node_declared_dead_by_mistake_takes_its_sessions_back(
    node1: Node, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    therapist = await therapist_on(node1)
    assert await redis_client.hget(f"{redis_prefix}session_node", "s1") == b"node1"
    node2 = Node(redis_client, redis_prefix, "node2")
    await node2.router.start()
    try:
        # As if node 1's pub/sub connection had blinked during node 2's sweep.
        assert await node2.router.declare_dead("node1", "test")
        assert await redis_client.hget(f"{redis_prefix}session_node", "s1") is None

        async def healed() -> bool:
            placed = await redis_client.hget(f"{redis_prefix}session_node", "s1")
            return placed == b"node1" and await redis_client.hexists(
                f"{redis_prefix}nodes", "node1"
            )

        await eventually(healed)
        # The call on node 1 went on meanwhile.
        assert therapist.conn.closed is None
    finally:
        await node2.router.close()


async def test_a_session_another_node_took_is_handed_over_with_1012(
    node1: Node, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    therapist = await therapist_on(node1)
    # Node 1 was declared dead by mistake and node 2 placed the session meanwhile.
    await redis_client.hset(f"{redis_prefix}session_node", "s1", "node2")
    assert await therapist.conn.wait_closed() == (1012, "session moved")
    assert node1.router.local.get_host("s1") is None
