from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis_text import text
from signaling_fakes import Client, FakeRelay, MemoryBackend, eventually, join_link, make_router

from signaling.ports import TherapistIdentity
from signaling.redis_router import RedisRouter

pytestmark = pytest.mark.redis

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


class Cluster:
    """Two nodes as two processes would have them: own router, own relay; shared DB and Redis."""

    def __init__(self, redis_client: aioredis.Redis, prefix: str) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.backend.add("s2")
        self.relays = [FakeRelay(), FakeRelay()]
        self.nodes = [
            RedisRouter(make_router(self.backend, relay), redis_client, f"node{i}", prefix=prefix)
            for i, relay in enumerate(self.relays, start=1)
        ]


@pytest.fixture
async def cluster(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Cluster]:
    cluster = Cluster(redis_client, redis_prefix)
    for node in cluster.nodes:
        await node.start()
    yield cluster
    for node in cluster.nodes:
        await node.close()


async def test_parent_on_one_node_therapist_on_the_other(
    cluster: Cluster, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node1, node2 = cluster.nodes
    therapist = Client(node1, "s1", THERAPIST)
    await therapist.join()
    assert await redis_client.hget(f"{redis_prefix}session_node", "s1") == b"node1"

    token, _ = join_link("s1", name="Pat")
    parent = Client(node2, "s1")
    await parent.join(token=token)
    welcome = await parent.conn.wait_for("welcome")
    assert welcome["lobby"] is True

    async def knocked() -> bool:
        return bool(therapist.conn.last("lobby_update")["waiting"])

    await eventually(knocked)

    await therapist.send(type="admit", participant_id=welcome["participant_id"])
    assert (await parent.conn.wait_for("admitted"))["rejoin"]
    offer = await parent.conn.wait_for("offer")
    await parent.send(type="answer", sdp="v=0 answer", revision=offer["revision"])
    room = cluster.relays[0].rooms["s1"]

    async def answered() -> bool:
        return bool(room.answers)

    await eventually(answered)
    assert room.answers == [(welcome["participant_id"], "v=0 answer", offer["revision"])]
    # The session runs on node 1 only; node 2 never opened a media room for it.
    assert "s1" not in cluster.relays[1].rooms

    await parent.send(type="ping")
    await parent.conn.wait_for("pong")
    await therapist.send(type="end")
    assert (await parent.conn.wait_closed())[0] == 4002

    async def released() -> bool:
        return await redis_client.hget(f"{redis_prefix}session_node", "s1") is None

    await eventually(released)


async def test_revoke_from_a_node_that_does_not_host_the_session(cluster: Cluster) -> None:
    node1, node2 = cluster.nodes
    therapist = Client(node1, "s2", THERAPIST)
    await therapist.join()
    token, link_id = join_link("s2")
    parent = Client(node1, "s2")
    await parent.join(token=token)
    cluster.backend.revoked.add(link_id)
    await node2.revoke_link("s2", link_id)
    removed = await parent.conn.wait_for("removed")
    assert removed["reason"] == "link_revoked"


async def test_node_registry_and_dead_node_takeover(
    cluster: Cluster, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node1, node2 = cluster.nodes
    raw = await redis_client.hget(f"{redis_prefix}nodes", "node1")
    assert raw is not None
    info = json.loads(raw)
    assert info["node_id"] == "node1"
    assert time.time() - info["heartbeat_at"] < 60
    # A node that stopped beating long ago loses its sessions to whoever needs them next.
    stale = {"node_id": "ghost", "started_at": 0, "heartbeat_at": 0, "sessions": 1}
    await redis_client.hset(f"{redis_prefix}nodes", "ghost", json.dumps(stale))
    await redis_client.hset(f"{redis_prefix}session_node", "s2", "ghost")
    assert await node2.owner_of("s2") == "node2"
    assert await node1.owner_of("s2") == "node2"


async def test_refused_or_abandoned_connections_do_not_keep_a_placement(
    cluster: Cluster, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node1, _ = cluster.nodes
    bogus = Client(node1, "no-such-session")
    await bogus.join(token=join_link("no-such-session")[0])
    assert bogus.conn.closed is not None
    assert bogus.conn.closed[0] == 4404
    await bogus.handle.disconnected()
    assert await redis_client.hget(f"{redis_prefix}session_node", "no-such-session") is None
    idle = Client(node1, "s2")
    await idle.open()
    assert await redis_client.hget(f"{redis_prefix}session_node", "s2") == b"node1"
    await idle.handle.disconnected()
    assert await redis_client.hget(f"{redis_prefix}session_node", "s2") is None


async def test_a_session_taken_elsewhere_is_not_hosted_twice(
    cluster: Cluster, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node1, node2 = cluster.nodes
    early = Client(node1, "s2", THERAPIST)
    await early.open()  # placed on node 1, but no join yet
    await redis_client.hset(f"{redis_prefix}session_node", "s2", "node2")
    await early.join()
    assert early.conn.closed is not None
    assert early.conn.closed[0] == 1012
    assert node1.local.get_host("s2") is None
    again = Client(node1, "s2", THERAPIST)
    await again.join()
    await again.conn.wait_for("welcome")
    assert node2.local.get_host("s2") is not None


async def test_sessions_placed_at_the_same_moment_spread_over_the_nodes(
    cluster: Cluster, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    node1, _ = cluster.nodes
    # Twenty new sessions asked for at once through one node (a burst of appointments
    # starting): each placement counts the loads and claims in one transaction. Counted
    # separately, all twenty read "0 and 0" and stay on the asking node.
    ids = [f"burst{i}" for i in range(20)]
    owners = await asyncio.gather(*(node1.owner_of(sid) for sid in ids))
    # key=str: an owner of None (no node) sorts too, and fails the comparison.
    assert sorted(owners, key=str) == ["node1"] * 10 + ["node2"] * 10
    stored = await redis_client.hgetall(f"{redis_prefix}session_node")
    placed = {text(k): text(v) for k, v in stored.items() if text(k).startswith("burst")}
    assert placed == dict(zip(ids, owners, strict=True))
