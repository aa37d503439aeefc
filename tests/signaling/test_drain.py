"""Draining a node: it takes no new session, and every call on it moves to another node with
1012; the clients come back there through the normal rejoin (no second admission), and the node
says it is done (the server then exits)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis_text import text
from signaling_fakes import Client, FakeRelay, MemoryBackend, eventually, join_link, make_router

from signaling.node_registry import drain_request, drained_key
from signaling.ports import TherapistIdentity
from signaling.protocol import CloseCode
from signaling.redis_router import RedisRouter

pytestmark = pytest.mark.redis

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")
OTHER_THERAPIST = TherapistIdentity(user_id="u2", display_name="Dr. Oz")


class Pair:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.backend = MemoryBackend()
        self.backend.add("s1")
        self.backend.add("s2", therapist="u2")
        self.backend.add("s3")
        self.relays = [FakeRelay(), FakeRelay()]
        self.a, self.b = (
            RedisRouter(
                make_router(self.backend, relay), client, name, prefix=prefix, drain_linger=0.2
            )
            for name, relay in zip(("a", "b"), self.relays, strict=True)
        )
        self.drained: list[str] = []

        async def empty() -> None:
            self.drained.append("empty")

        async def done() -> None:
            self.drained.append("a")

        self.a.add_drained_listener(done)
        self.a.add_drained_listener(empty, when_empty=True)


@pytest.fixture
async def pair(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[Pair]:
    pair = Pair(redis_client, redis_prefix)
    for node in (pair.a, pair.b):
        await node.start()
    yield pair
    for node in (pair.a, pair.b):
        await node.close()


async def welcomed(client: Client, token: str | None = None) -> Client:
    await client.join(token=token)
    await client.conn.wait_for("welcome")
    return client


async def test_a_drained_node_moves_its_call_and_the_parent_is_not_admitted_again(
    pair: Pair, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    a, b = pair.a, pair.b
    # s1 on node a: the therapist's socket there, the parent's socket on node b.
    therapist = await welcomed(Client(a, "s1", THERAPIST))
    token, _ = join_link("s1", name="Pat Parent")
    parent = await welcomed(Client(b, "s1"), token)
    await therapist.send(type="admit", participant_id=parent.participant_id)
    rejoin = (await parent.conn.wait_for("admitted"))["rejoin"]
    t_id, p_id = therapist.participant_id, parent.participant_id
    # s2 on node b, with a socket on node a (it must leave a too).
    other = await welcomed(Client(b, "s2", OTHER_THERAPIST))
    visitor = await welcomed(Client(a, "s2"), join_link("s2", name="Kim Knocking")[0])
    assert a.local.hosted_sessions() == ["s1"]

    # What `tandem drain` sends.
    await redis_client.publish(f"{redis_prefix}node:a", drain_request(10))
    for conn in (therapist.conn, parent.conn, visitor.conn):
        code, reason = await conn.wait_closed()
        assert code == CloseCode.SERVICE_RESTART, reason
    assert other.conn.closed is None  # node b's own session is untouched

    # Everyone comes back (through the load balancer: node b), with their credentials.
    back_t = Client(b, "s1", THERAPIST)
    await back_t.join()
    await back_t.conn.wait_for("welcome")
    back_p = Client(b, "s1", client_id=parent.client_id)
    await back_p.join(token=token, rejoin=rejoin)
    welcome = await back_p.conn.wait_for("welcome")
    assert welcome["lobby"] is False
    assert welcome["participant_id"] == p_id
    assert back_t.participant_id == t_id
    assert "admitted" not in back_p.conn.types()
    assert sorted(b.local.hosted_sessions()) == ["s1", "s2"]
    owner = await redis_client.hget(f"{redis_prefix}session_node", "s1")
    assert owner is not None
    assert text(owner) == "b"

    # The drained node said so, and may stop; it is known as drained (not to be restarted).
    async def drained() -> bool:
        # Emptied first (attendance ends there), stopped after the linger.
        return pair.drained == ["empty", "a"]

    await eventually(drained)
    assert await redis_client.sismember(drained_key(redis_prefix), "a")
    raw = await redis_client.hget(f"{redis_prefix}nodes", "a")
    assert raw is not None
    assert json.loads(text(raw))["draining"] is True


async def test_a_draining_node_takes_no_new_session(
    pair: Pair, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    pair.a.start_drain(30)
    assert pair.a.gauge.draining
    # Asked through the draining node itself (the load balancer had not noticed yet).
    therapist = Client(pair.a, "s3", THERAPIST)
    await therapist.join()
    await therapist.conn.wait_for("welcome")
    owner = await redis_client.hget(f"{redis_prefix}session_node", "s3")
    assert owner is not None
    assert text(owner) == "b"
    assert pair.a.local.hosted_sessions() == []
