"""Placement by load: a new session goes to a node with headroom; a node that is draining, at
its session cap or over its CPU limit takes none; with no headroom anywhere the join is refused
with a clear message (and the client tries again later), and the sessions already running go on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis_text import text
from signaling_fakes import Client, FakeRelay, MemoryBackend, make_router

from signaling.placement import CpuMeter, LeastLoadedSelector, NodeGauge, NodeLoad
from signaling.ports import TherapistIdentity
from signaling.protocol import CloseCode
from signaling.redis_router import RedisRouter

THERAPIST = TherapistIdentity(user_id="u1", display_name="Dr. Tess")


def test_fewest_sessions_win_and_the_asking_node_keeps_a_tie() -> None:
    selector = LeastLoadedSelector()
    assert selector.select("a", {"a": NodeLoad(1), "b": NodeLoad(1)}) == "a"
    assert selector.select("a", {"a": NodeLoad(2), "b": NodeLoad(1), "c": NodeLoad(1)}) == "b"
    # Among equals, the one using less CPU.
    loads = {"a": NodeLoad(2), "b": NodeLoad(1, cpu=0.5), "c": NodeLoad(1, cpu=0.2)}
    assert selector.select("a", loads) == "c"


def test_a_node_without_headroom_is_skipped_however_few_its_sessions() -> None:
    selector = LeastLoadedSelector()
    hot = NodeLoad(0, cpu=0.95, cpu_limit=0.9)
    full = NodeLoad(3, max_sessions=3)
    draining = NodeLoad(0, draining=True)
    busy_but_open = NodeLoad(7, cpu=0.5, cpu_limit=0.9, max_sessions=10)
    loads = {"a": hot, "b": full, "c": draining, "d": busy_but_open}
    assert selector.select("a", loads) == "d"
    assert selector.select("a", {"a": hot, "b": full, "c": draining}) is None


def test_a_load_round_trips_through_the_heartbeat() -> None:
    load = NodeLoad(4, cpu=0.71234, cpu_limit=0.9, max_sessions=None, draining=True)
    again = NodeLoad.from_json(json.loads(json.dumps(load.as_json())))
    assert again == NodeLoad(4, cpu=0.712, cpu_limit=0.9, draining=True)
    # The placements' count replaces the heartbeat's (which lags).
    assert NodeLoad.from_json(load.as_json(), sessions=6).sessions == 6


class _FixedMeter:
    def __init__(self, cores: float) -> None:
        self.cores = cores

    def read(self) -> float:
        return self.cores


def _node(
    client: aioredis.Redis, prefix: str, name: str, backend: MemoryBackend, cpu: float
) -> tuple[RedisRouter, _FixedMeter]:
    local = make_router(backend, FakeRelay())
    meter = _FixedMeter(cpu)
    gauge = NodeGauge(lambda: len(local.hosted_sessions()), cpu_limit=0.9, meter=meter)
    return RedisRouter(local, client, name, prefix=prefix, gauge=gauge), meter


@pytest.fixture
async def nodes(
    redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[tuple[RedisRouter, _FixedMeter, RedisRouter, _FixedMeter]]:
    backend = MemoryBackend()
    for session_id in ("s1", "s2", "s3"):
        backend.add(session_id)
    hot, hot_meter = _node(redis_client, redis_prefix, "hot", backend, cpu=1.4)
    cool, cool_meter = _node(redis_client, redis_prefix, "cool", backend, cpu=0.1)
    for node in (hot, cool):
        await node.start()
    yield hot, hot_meter, cool, cool_meter
    for node in (hot, cool):
        await node.close()


@pytest.mark.redis
async def test_placement_skips_a_node_that_reports_no_headroom(
    nodes: tuple[RedisRouter, _FixedMeter, RedisRouter, _FixedMeter],
    redis_client: aioredis.Redis,
    redis_prefix: str,
) -> None:
    hot, _, cool, _ = nodes
    # The hot node has no session at all; fewest sessions would pick it (it is asked first).
    therapist = Client(hot, "s1", THERAPIST)
    await therapist.join()
    await therapist.conn.wait_for("welcome")
    owner = await redis_client.hget(f"{redis_prefix}session_node", "s1")
    assert owner is not None
    assert text(owner) == "cool"
    assert cool.local.hosted_sessions() == ["s1"]
    assert hot.local.hosted_sessions() == []
    # Its heartbeat told the others why.
    raw = await redis_client.hget(f"{redis_prefix}nodes", "hot")
    assert raw is not None
    beat = json.loads(text(raw))
    assert (beat["cpu"], beat["cpu_limit"]) == (1.4, 0.9)


@pytest.mark.redis
async def test_with_no_headroom_anywhere_a_new_session_is_refused_clearly(
    nodes: tuple[RedisRouter, _FixedMeter, RedisRouter, _FixedMeter],
) -> None:
    hot, _, cool, cool_meter = nodes
    running = Client(cool, "s1", THERAPIST)
    await running.join()
    await running.conn.wait_for("welcome")
    cool_meter.cores = 0.95

    refused = Client(hot, "s2", THERAPIST)
    await refused.join()
    error = await refused.conn.wait_for("error")
    assert error["code"] == "server_busy"
    assert "busy" in error["message"]
    code, _ = await refused.conn.wait_closed()
    # 1013: try again later (the browser retries; nothing final).
    assert code == CloseCode.TRY_AGAIN_LATER
    assert hot.local.hosted_sessions() == []

    # The session already running is unharmed: its therapist still gets answers.
    await running.send(type="ping")
    await running.conn.wait_for("pong")
    assert running.conn.closed is None

    # Once there is room again, the same session starts.
    cool_meter.cores = 0.2
    again = Client(hot, "s2", THERAPIST)
    await again.join()
    await again.conn.wait_for("welcome")


class _Clocks:
    """A process that uses ``rate`` cores from now on, read with the meter's two clocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.rate = 0.0

    def run(self, seconds: float, step: float = 0.5) -> None:
        for _ in range(round(seconds / step)):
            self.wall += step
            self.cpu += self.rate * step


def test_a_burst_does_not_close_a_node_but_a_load_that_lasts_does() -> None:
    clocks = _Clocks()
    meter = CpuMeter(cpu_clock=lambda: clocks.cpu, wall_clock=lambda: clocks.wall)
    gauge = NodeGauge(lambda: 0, cpu_limit=0.9, meter=meter)
    clocks.rate = 0.1
    clocks.run(30)
    assert gauge.has_room()
    # A burst of sign-ins: two hashing threads busy for a second.
    clocks.rate = 2.0
    clocks.run(1)
    assert meter.read() < 0.9
    assert gauge.has_room()
    # The same load for half a minute is real: no new session here.
    clocks.run(30)
    assert meter.read() > 1.8
    assert not gauge.has_room()
    # And the node opens again once it has been quiet a while.
    clocks.rate = 0.1
    clocks.run(30)
    assert gauge.has_room()
