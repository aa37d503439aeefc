"""Several processes or hosts: Redis decides which node runs a session; others forward to it.

Wraps a LocalRouter and changes only where a session lives (LiveKit's RedisRouter pattern).
Keys (see docs/signaling.md, "Redis keys"):
  {prefix}nodes         hash  node_id -> JSON {node_id, started_at, heartbeat_at, sessions}
  {prefix}session_node  hash  session_id -> node_id that hosts the session
  {prefix}node:{id}     pub/sub channel of one node (JSON envelopes with an "op")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from signaling.local_router import LocalRouter
from signaling.placement import LeastLoadedSelector, NodeSelector
from signaling.ports import Connection, Identity, TherapistIdentity
from signaling.router import ConnectionHandle

log = logging.getLogger(__name__)
# Optimistic placement transactions tried before a plain claim (see _place_new).
_PLACE_ATTEMPTS = 20

# Replace the owner only if it is still the dead node we looked at (no lost races).
_CAS_OWNER = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1
end
return 0
"""
_RELEASE_OWNER = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _identity_to_json(identity: Identity) -> dict[str, str] | None:
    if identity is None:
        return None
    return {"user_id": identity.user_id, "display_name": identity.display_name}


def _identity_from_json(data: Any) -> Identity:
    if data is None:
        return None
    return TherapistIdentity(user_id=str(data["user_id"]), display_name=str(data["display_name"]))


class _Serial:
    """Runs one connection's operations in arrival order without blocking other connections."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    def put(self, job: Callable[[], Awaitable[None]]) -> None:
        self._queue.put_nowait(job)

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def cancel(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while (job := await self._queue.get()) is not None:
            try:
                await job()
            except Exception:
                log.exception("forwarded operation failed")


class _RemoteConnection:
    """On the owning node: the Connection of a client whose socket is on another node."""

    def __init__(self, router: RedisRouter, origin: str, conn_id: str) -> None:
        self._router, self._origin, self._conn_id = router, origin, conn_id

    async def send(self, message_json: str) -> None:
        await self._router.publish(self._origin, op="send", conn=self._conn_id, text=message_json)

    async def close(self, code: int, reason: str) -> None:
        await self._router.publish(
            self._origin, op="close", conn=self._conn_id, code=code, reason=reason
        )


class _RemoteHandle:
    """On the client's node: forwards its frames to the owning node."""

    def __init__(self, router: RedisRouter, owner: str, conn_id: str) -> None:
        self._router, self._owner, self._conn_id = router, owner, conn_id

    async def receive(self, raw: str) -> None:
        await self._router.publish(self._owner, op="receive", conn=self._conn_id, raw=raw)

    async def disconnected(self) -> None:
        await self._router.publish(self._owner, op="disconnected", conn=self._conn_id)
        await self._router.forget_origin(self._conn_id)


class RedisRouter:
    def __init__(
        self,
        local: LocalRouter,
        redis: Redis,
        node_id: str,
        *,
        prefix: str = "tandem:",
        heartbeat_interval: float = 5.0,
        node_ttl: float = 15.0,
        selector: NodeSelector | None = None,
    ) -> None:
        self.local = local
        self.node_id = node_id
        self._redis = redis
        self._prefix = prefix
        self._nodes_key = f"{prefix}nodes"
        self._sessions_key = f"{prefix}session_node"
        self._selector: NodeSelector = selector or LeastLoadedSelector()
        self._interval = heartbeat_interval
        self._ttl = node_ttl
        self._started_at = time.time()
        # Connections whose socket is here, served elsewhere: conn_id -> (socket, ordered sender).
        self._origin: dict[str, tuple[Connection, _Serial]] = {}
        # Connections served here whose socket is elsewhere: conn_id -> (handle, ordered receiver).
        self._proxied: dict[str, tuple[list[ConnectionHandle], _Serial]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub: Any = None
        local.add_session_closed_listener(self._release)
        local.placement = self._may_host

    def _channel(self, node_id: str) -> str:
        return f"{self._prefix}node:{node_id}"

    async def start(self) -> None:
        await self._heartbeat_once()
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self._channel(self.node_id))
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._heartbeat()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, serial in [*self._origin.values(), *self._proxied.values()]:
            await serial.cancel()
        self._origin.clear()
        self._proxied.clear()
        if self._pubsub is not None:
            await self._pubsub.unsubscribe()
            await self._pubsub.aclose()
        for session_id in self.local.hosted_sessions():
            await self._release(session_id)
        await self.local.close()
        await self._redis.hdel(self._nodes_key, self.node_id)

    # --- the Router interface -------------------------------------------------------------

    async def connect(
        self, session_id: str, conn: Connection, identity: Identity, remote: str | None
    ) -> ConnectionHandle:
        owner = await self.owner_of(session_id)
        if owner is None or owner == self.node_id:
            return await self.local.connect(session_id, conn, identity, remote)
        conn_id = uuid.uuid4().hex
        self._origin[conn_id] = (conn, _Serial())
        await self.publish(
            owner,
            op="connect",
            conn=conn_id,
            origin=self.node_id,
            session=session_id,
            identity=_identity_to_json(identity),
            remote=remote,
        )
        return _RemoteHandle(self, owner, conn_id)

    async def revoke_link(self, session_id: str, link_id: str) -> None:
        owner = await self.owner_of(session_id, claim=False)
        if owner is None or owner == self.node_id:
            await self.local.revoke_link(session_id, link_id)
        else:
            await self.publish(owner, op="revoke_link", session=session_id, link_id=link_id)

    async def end_session(self, session_id: str) -> None:
        owner = await self.owner_of(session_id, claim=False)
        if owner is None or owner == self.node_id:
            await self.local.end_session(session_id)
        else:
            await self.publish(owner, op="end_session", session=session_id)

    # --- placement --------------------------------------------------------------------------

    async def owner_of(self, session_id: str, *, claim: bool = True) -> str | None:
        """The live node hosting the session; with `claim`, this node takes it when nobody has."""
        for _ in range(3):
            owner = await self._redis.hget(self._sessions_key, session_id)
            if owner is None:
                if not claim:
                    return None
                target = await self._place_new(session_id)
                if target is not None:
                    if target != self.node_id:
                        log.info("placed session %s on node %s", session_id, target)
                    return target
                continue
            owner = _text(owner)
            if owner == self.node_id or await self._alive(owner):
                return owner
            if not claim:
                return None
            taken = await self._redis.eval(
                _CAS_OWNER, 1, self._sessions_key, session_id, owner, self.node_id
            )
            if taken:
                log.warning("took over session %s from dead node %s", session_id, owner)
                return self.node_id
        raise RuntimeError(f"could not place session {session_id}")

    async def _place_new(self, session_id: str) -> str | None:
        """Place a session nobody hosts; None if someone placed it meanwhile (look again).

        Counting the loads and claiming is one optimistic transaction (WATCH on the placements):
        two sessions placed at the same moment from different nodes otherwise both read the same
        loads and both land on the same node.
        """
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_PLACE_ATTEMPTS):
                try:
                    await pipe.watch(self._sessions_key)
                    if await pipe.hexists(self._sessions_key, session_id):
                        return None
                    placements = [_text(v) for v in await pipe.hvals(self._sessions_key)]
                    target = self._select(await self._live_nodes(), placements)
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py, untyped
                    pipe.hset(self._sessions_key, session_id, target)
                    await pipe.execute()
                    return target
                except WatchError:
                    continue  # another placement or release landed in between: count again
        # Placements kept changing under us: settle for a claim that may be a little uneven.
        target = self._select(await self._live_nodes(), [])
        claimed = await self._redis.hsetnx(self._sessions_key, session_id, target)
        return target if claimed else None

    async def _live_nodes(self) -> list[str]:
        nodes = await self._redis.hgetall(self._nodes_key)
        now = time.time()
        return [
            _text(raw_id)
            for raw_id, raw_info in nodes.items()
            if now - float(json.loads(_text(raw_info)).get("heartbeat_at", 0)) < self._ttl
        ]

    def _select(self, live: list[str], placements: list[str]) -> str:
        """The least-loaded live node, counted from the placements themselves (current), not
        from heartbeats (which lag)."""
        loads = dict.fromkeys(live, 0)
        loads.setdefault(self.node_id, 0)
        for owner in placements:
            if owner in loads:
                loads[owner] += 1
        return self._selector.select(self.node_id, loads)

    async def _may_host(self, session_id: str) -> bool:
        # Checked again when the host is created: the placement may have been released meanwhile.
        return await self.owner_of(session_id) == self.node_id

    async def _alive(self, node_id: str) -> bool:
        raw = await self._redis.hget(self._nodes_key, node_id)
        if raw is None:
            return False
        beat = float(json.loads(_text(raw)).get("heartbeat_at", 0))
        return time.time() - beat < self._ttl

    async def _release(self, session_id: str) -> None:
        await self._redis.eval(_RELEASE_OWNER, 1, self._sessions_key, session_id, self.node_id)

    async def _heartbeat_once(self) -> None:
        info = {
            "node_id": self.node_id,
            "started_at": self._started_at,
            "heartbeat_at": time.time(),
            "sessions": len(self.local.hosted_sessions()),
        }
        await self._redis.hset(self._nodes_key, self.node_id, json.dumps(info))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._heartbeat_once()
            except Exception:
                log.exception("heartbeat failed")

    # --- messaging between nodes --------------------------------------------------------------

    async def publish(self, node_id: str, **envelope: Any) -> None:
        await self._redis.publish(self._channel(node_id), json.dumps(envelope))

    async def forget_origin(self, conn_id: str) -> None:
        entry = self._origin.pop(conn_id, None)
        if entry is not None:
            entry[1].finish()

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                self._dispatch(json.loads(_text(message["data"])))
            except Exception:
                log.exception("bad inter-node message")

    def _dispatch(self, env: dict[str, Any]) -> None:
        op = env["op"]
        if op == "connect":
            self._accept(env)
        elif op in ("receive", "disconnected"):
            proxied = self._proxied.get(env["conn"])
            if proxied is not None:
                handle_box, serial = proxied
                if op == "receive":
                    raw = str(env["raw"])
                    serial.put(lambda: handle_box[0].receive(raw))
                else:
                    serial.put(handle_box[0].disconnected)
                    serial.finish()
                    del self._proxied[env["conn"]]
        elif op in ("send", "close"):
            origin = self._origin.get(env["conn"])
            if origin is not None:
                conn, serial = origin
                if op == "send":
                    text = str(env["text"])
                    serial.put(lambda: conn.send(text))
                else:
                    code, reason = int(env["code"]), str(env["reason"])
                    serial.put(lambda: conn.close(code, reason))
        elif op == "revoke_link":
            session_id, link_id = str(env["session"]), str(env["link_id"])
            self._tasks.append(asyncio.create_task(self.local.revoke_link(session_id, link_id)))
        elif op == "end_session":
            self._tasks.append(asyncio.create_task(self.local.end_session(str(env["session"]))))

    def _accept(self, env: dict[str, Any]) -> None:
        conn_id, origin = str(env["conn"]), str(env["origin"])
        session_id, remote = str(env["session"]), env.get("remote")
        identity = _identity_from_json(env.get("identity"))
        handle_box: list[ConnectionHandle] = []
        serial = _Serial()
        self._proxied[conn_id] = (handle_box, serial)

        async def open_handle() -> None:
            conn = _RemoteConnection(self, origin, conn_id)
            handle_box.append(await self.local.connect(session_id, conn, identity, remote))

        serial.put(open_handle)
