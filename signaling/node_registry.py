"""The nodes sharing one Redis: this node's heartbeat, which nodes are alive, and declaring one
dead so that its sessions can be placed again at once.

A node is alive while its heartbeat in `{prefix}nodes` is fresh **and** someone is subscribed to
its channel `{prefix}node:{id}`. The second is the fast signal: a node's pub/sub connection
closes with its process, so a PUBLISH to it reaching nobody (or PUBSUB NUMSUB saying 0) means
the process is gone, long before its heartbeat goes stale (node_ttl, the fallback for a node
that hangs without dying or a host cut off from Redis).

Declaring a node dead is one Lua script (atomic): it leaves `{prefix}nodes`, every placement
naming it leaves `{prefix}session_node` (the next connection places the session on a live
node), and a `node_down` event goes out on `{prefix}events` to every node, which then closes
the sockets it was forwarding to the dead node with 1012 (the clients reconnect at once). Only
the caller whose script found something to remove gets the NodeDown back (and repairs what the
dead node left in the database): concurrent declarations of one death yield one repair.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from signaling.placement import NodeLoad

log = logging.getLogger(__name__)

# A node subscribes to its channel before it first beats; NUMSUB may still lag the heartbeat
# by a moment (two connections): a node this new is not called deaf.
_DEAF_GRACE_SECONDS = 1.0

_DECLARE_DEAD = """
local info = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
local owned = {}
local placed = redis.call('HGETALL', KEYS[2])
for i = 1, #placed, 2 do
  if placed[i + 1] == ARGV[1] then
    redis.call('HDEL', KEYS[2], placed[i])
    owned[#owned + 1] = placed[i]
  end
end
if not info and #owned == 0 then return false end
local event = cjson.encode({op = 'node_down', node = ARGV[1], sessions = owned,
                            by = ARGV[3], why = ARGV[4]})
redis.call('PUBLISH', ARGV[2], event)
return event
"""


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def events_channel(prefix: str) -> str:
    """Every node listens here: `node_down` (a node was declared dead), `node_exited` (a
    supervisor saw its worker process end: the nodes declare it dead)."""
    return f"{prefix}events"


def exit_notice(node_id: str) -> str:
    """What a supervising process publishes on the events channel when a worker ends."""
    return json.dumps({"op": "node_exited", "node": node_id})


@dataclass(frozen=True)
class NodeDown:
    node_id: str
    # The sessions it hosted; their placements are gone (the next connection places them).
    sessions: tuple[str, ...]
    declared_at: datetime
    why: str


def parse_node_down(env: dict[str, Any]) -> NodeDown:
    sessions = env.get("sessions")
    # cjson writes an empty Lua table as {}.
    return NodeDown(
        node_id=str(env["node"]),
        sessions=tuple(str(s) for s in sessions) if isinstance(sessions, list) else (),
        declared_at=datetime.now(UTC),
        why=str(env.get("why", "")),
    )


async def registered_nodes(redis: Redis, nodes_key: str) -> dict[str, dict[str, Any]]:
    return {text(k): json.loads(text(v)) for k, v in (await redis.hgetall(nodes_key)).items()}


def drain_request(deadline_seconds: float) -> str:
    """What `tandem drain` publishes on a node's channel."""
    return json.dumps({"op": "drain", "deadline": deadline_seconds})


def drained_key(prefix: str) -> str:
    """A set of the nodes that drained and exit on purpose (a supervisor restarts none of them)."""
    return f"{prefix}drained"


class NodeRegistry:
    def __init__(self, redis: Redis, node_id: str, prefix: str, *, node_ttl: float = 15.0) -> None:
        self._redis = redis
        self.node_id = node_id
        self._prefix = prefix
        self.nodes_key = f"{prefix}nodes"
        self.sessions_key = f"{prefix}session_node"
        self.events = events_channel(prefix)
        self._ttl = node_ttl
        self._started_at = time.time()

    def channel(self, node_id: str) -> str:
        return f"{self._prefix}node:{node_id}"

    async def beat(self, load: NodeLoad, host: str | None = None) -> None:
        info = {
            "node_id": self.node_id,
            "host": host,
            "started_at": self._started_at,
            "heartbeat_at": time.time(),
            **load.as_json(),
        }
        await self._redis.hset(self.nodes_key, self.node_id, json.dumps(info))

    async def leave(self) -> None:
        await self._redis.hdel(self.nodes_key, self.node_id)

    async def _listeners(self, node_ids: list[str]) -> dict[str, int]:
        if not node_ids:
            return {}
        counts = await self._redis.pubsub_numsub(*(self.channel(n) for n in node_ids))
        by_channel = {text(channel): int(count) for channel, count in counts}
        return {n: by_channel.get(self.channel(n), 0) for n in node_ids}

    def _verdict(self, info: dict[str, Any], listeners: int, now: float) -> str | None:
        """Why a registered node is dead, or None while it is alive."""
        if now - float(info.get("heartbeat_at", 0)) >= self._ttl:
            return "heartbeat stale"
        if listeners == 0 and now - float(info.get("started_at", 0)) > _DEAF_GRACE_SECONDS:
            return "nobody on its channel"
        return None

    async def alive(self, node_id: str) -> bool:
        if node_id == self.node_id:
            return True
        raw = await self._redis.hget(self.nodes_key, node_id)
        if raw is None:
            return False
        listeners = (await self._listeners([node_id]))[node_id]
        return self._verdict(json.loads(text(raw)), listeners, time.time()) is None

    async def census(self) -> tuple[list[str], dict[str, str]]:
        """(live nodes, {dead node: why}) among the registered ones; this node counts as live."""
        live, dead, _ = await self.census_with_info()
        return live, dead

    async def census_with_info(
        self,
    ) -> tuple[list[str], dict[str, str], dict[str, dict[str, Any]]]:
        """As ``census``, with every registered node's last heartbeat (its load among it)."""
        nodes = await registered_nodes(self._redis, self.nodes_key)
        others = [n for n in nodes if n != self.node_id]
        listeners = await self._listeners(others)
        now = time.time()
        live, dead = [self.node_id], {}
        for node_id in others:
            why = self._verdict(nodes[node_id], listeners[node_id], now)
            if why is None:
                live.append(node_id)
            else:
                dead[node_id] = why
        return live, dead, nodes

    async def silent(self, node_id: str) -> bool:
        """A PUBLISH to the node reached nobody: is its channel really empty (not a subscriber
        that was reconnecting at that instant)?"""
        return (await self._listeners([node_id]))[node_id] == 0

    async def declare_dead(self, node_id: str, why: str) -> NodeDown | None:
        """None: not this node's to repair (itself, or already declared by someone else)."""
        if node_id == self.node_id:
            return None
        event = await self._redis.eval(
            _DECLARE_DEAD,
            2,
            self.nodes_key,
            self.sessions_key,
            node_id,
            self.events,
            self.node_id,
            why,
        )
        if event is None:
            return None
        down = parse_node_down(json.loads(text(event)))
        log.warning(
            "declared node %s dead (%s); %d sessions to place again",
            node_id,
            why,
            len(down.sessions),
        )
        return down
