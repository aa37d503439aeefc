"""Two app processes with the real Redis: the parent's socket on one, the therapist's on the
other; the session lives on one node and the call works."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import httpx
import pytest
import redis
from live import TEST_PASSWORD, LiveServer, create_account, prepare_environment, serving
from live_call import admit, new_call
from protocol_client import login

EMAIL = "redis-live@example.test"


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[LiveServer, LiveServer]]:
    tmp = tmp_path_factory.mktemp("redis-live")
    # A database of its own: both processes share it, as two hosts share PostgreSQL.
    env = prepare_environment(tmp, redis_url=redis_url, secret=secrets.token_urlsafe(40))
    create_account(env, EMAIL)
    with serving(env, tmp, "node1") as first, serving(env, tmp, "node2") as second:
        yield first, second


def hosted(node: LiveServer) -> int:
    text = httpx.get(f"{node.base_url}/metrics").text
    match = re.search(r"^tandem_video_sessions_hosted ([0-9.]+)$", text, re.M)
    assert match
    return int(float(match.group(1)))


def test_both_nodes_register_in_redis(
    two_nodes: tuple[LiveServer, LiveServer], redis_url: str
) -> None:
    nodes = redis.Redis.from_url(redis_url).hkeys("tandem:nodes")
    assert len(nodes) >= 2
    for node in two_nodes:
        assert httpx.get(f"{node.base_url}/healthz").json()["redis"]["status"] == "ok"


async def test_call_across_two_processes(
    two_nodes: tuple[LiveServer, LiveServer], redis_url: str
) -> None:
    node1, node2 = two_nodes
    http = login(node1.base_url, EMAIL, TEST_PASSWORD)
    # The parent's socket lands on the other process.
    call = new_call(http, node1.base_url, "Across nodes", parent_base_url=node2.base_url)
    therapist, parent = call.therapist, call.parent
    try:
        await therapist.join()
        await therapist.expect("welcome")
        owner = redis.Redis.from_url(redis_url).hget("tandem:session_node", call.session_id)
        assert owner is not None
        await admit(therapist, parent)
        await call.flowing(frames=15)
        # The session (and its media) lives on node 1 only; node 2 just pumps the socket.
        assert hosted(node1) == 1
        assert hosted(node2) == 0
        await therapist.send({"type": "end"})
        await parent.expect("ended")
    finally:
        await call.close()
        http.close()
