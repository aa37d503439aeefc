"""Several processes or hosts: Redis decides which node runs a session; others forward to it.

Wraps a LocalRouter and changes only where a session lives (LiveKit's RedisRouter pattern).
Keys (see docs/signaling.md, "Redis keys"):
  {prefix}nodes         hash  node_id -> JSON {node_id, host, started_at, heartbeat_at,
                        sessions, cpu, cpu_limit, max_sessions, draining}
  {prefix}session_node  hash  session_id -> node_id that hosts the session
  {prefix}node:{id}     pub/sub channel of one node (JSON envelopes with an "op")
  {prefix}events        pub/sub channel of every node (node_down, node_exited)
  {prefix}drained       set   nodes that drained and exit on purpose (not to be restarted)
Which nodes are alive, and declaring one dead: signaling/node_registry.py. Which node takes a
new session (load, headroom): signaling/placement.py.

Draining (`tandem drain`, an op on the node's channel): the node takes no new session and its
heartbeat says so (others place nothing on it; /healthz answers 503 so the load balancer sends
it no new socket); each session hosted here is shut down with 1012 (the recording stops, as at
a restart), and so is every socket here whose session runs elsewhere: the clients reconnect,
land on another node and rejoin without a second admission. When nothing is left (or at the
deadline) the drained listeners run: the server exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from signaling import tasks
from signaling.local_router import LocalRouter
from signaling.node_registry import (
    NodeDown,
    NodeRegistry,
    drained_key,
    parse_node_down,
    text,
)
from signaling.placement import LeastLoadedSelector, NoCapacity, NodeGauge, NodeLoad, NodeSelector
from signaling.ports import Connection, Identity, TherapistIdentity
from signaling.protocol import CloseCode
from signaling.router import ConnectionHandle
from signaling.session import SessionHost

log = logging.getLogger(__name__)
# Optimistic placement transactions tried before a plain claim (see _place_new).
_PLACE_ATTEMPTS = 20
# Release a placement only if it is still this node's (no lost races).
_RELEASE_OWNER = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


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
        await tasks.stop(self._task)

    async def _run(self) -> None:
        while (job := await self._queue.get()) is not None:
            try:
                await job()
            except Exception:
                log.exception("forwarded operation failed")


@dataclass
class _Origin:
    """A socket here whose session another node runs."""

    conn: Connection
    owner: str
    serial: _Serial


@dataclass
class _Proxied:
    """A connection served here whose socket is on another node (`origin`)."""

    handle: list[ConnectionHandle]  # filled once the local router opened it
    origin: str
    serial: _Serial


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


NodeDownListener = Callable[[NodeDown], Awaitable[None]]
# How often a draining node looks again for sessions and sockets still here.
_DRAIN_POLL_SECONDS = 0.5
# A drained node stays up this long, answering /healthz with 503 and closing any late socket
# with 1012, before it stops: longer than a load balancer takes to mark it down (HAProxy with
# `inter 1s fall 2`: 2 s). A node that stops sooner may still be sent a connection it never
# answers.
DRAIN_LINGER_SECONDS = 3.0


def _moving(conn: Connection) -> Callable[[], Awaitable[None]]:
    return lambda: conn.close(CloseCode.SERVICE_RESTART, "session moved")


def _gone(handle: list[ConnectionHandle]) -> Callable[[], Awaitable[None]]:
    return lambda: handle[0].disconnected()


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
        gauge: NodeGauge | None = None,
        host: str | None = None,
        drain_linger: float = DRAIN_LINGER_SECONDS,
    ) -> None:
        self.local = local
        self.node_id = node_id
        self._redis = redis
        self.registry = NodeRegistry(redis, node_id, prefix, node_ttl=node_ttl)
        self._prefix = prefix
        self._sessions_key = self.registry.sessions_key
        self._selector: NodeSelector = selector or LeastLoadedSelector()
        self.gauge = gauge or NodeGauge(lambda: len(local.hosted_sessions()))
        # The machine this node runs on, in its heartbeat: `tandem drain` drains a host's nodes.
        self.host = host
        self._drained_listeners: list[Callable[[], Awaitable[None]]] = []
        self._emptied_listeners: list[Callable[[], Awaitable[None]]] = []
        self._drain_linger = drain_linger
        self._draining: asyncio.Task[bool] | None = None
        self._interval = heartbeat_interval
        self._origin: dict[str, _Origin] = {}
        self._proxied: dict[str, _Proxied] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Work started from a message (revoke, end, a declaration): kept until done.
        self._background: set[asyncio.Task[None]] = set()
        # Nodes declared dead (events seen): a publish to one that reaches nobody is no news.
        self._dead: set[str] = set()
        self._down_listeners: list[NodeDownListener] = []
        self._pubsub: Any = None
        local.add_session_closed_listener(self._release)
        local.placement = self._may_host
        local.has_room = self.gauge.has_room

    def add_node_down_listener(self, listener: NodeDownListener) -> None:
        """Called on the node that declared another dead (once per death, across all nodes):
        the server repairs what the dead node left in the database."""
        self._down_listeners.append(listener)

    async def start(self) -> None:
        # Subscribed before the first heartbeat: a registered node always has a listener, so
        # an empty channel means a dead node.
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self.registry.channel(self.node_id), self.registry.events)
        await self.registry.beat(self.gauge.load(), self.host)
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._heartbeat()),
        ]

    async def close(self) -> None:
        running: list[asyncio.Task[Any]] = [*self._tasks, *self._background]
        if self._draining is not None:
            running.append(self._draining)
        for task in running:
            await tasks.stop(task)
        for serial in [e.serial for e in self._origin.values()] + [
            e.serial for e in self._proxied.values()
        ]:
            await serial.cancel()
        self._origin.clear()
        self._proxied.clear()
        if self._pubsub is not None:
            await self._pubsub.unsubscribe()
            await self._pubsub.aclose()
        for session_id in self.local.hosted_sessions():
            await self._release(session_id)
        await self.local.close()
        await self.registry.leave()

    # --- the Router interface -------------------------------------------------------------

    async def connect(
        self, session_id: str, conn: Connection, identity: Identity, remote: str | None
    ) -> ConnectionHandle:
        owner = await self.owner_of(session_id)
        if owner is None or owner == self.node_id:
            return await self.local.connect(session_id, conn, identity, remote)
        conn_id = uuid.uuid4().hex
        self._origin[conn_id] = _Origin(conn, owner, _Serial())
        # Reaching nobody (the owner died since it was looked up): the owner is declared dead
        # and this socket closed with 1012; the client reconnects to the session's new place.
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
        """The live node hosting the session; with `claim`, it is placed when nobody hosts it,
        and a dead owner is declared dead first (its sessions then go to live nodes)."""
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
            owner = text(owner)
            if await self.registry.alive(owner):
                return owner
            if not claim:
                return None
            await self.declare_dead(owner, "found dead by a connection")
        raise RuntimeError(f"could not place session {session_id}")

    async def _place_new(self, session_id: str) -> str | None:
        """Place a session nobody hosts; None if someone placed it meanwhile (look again).

        Counting the loads and claiming is one optimistic transaction (WATCH on the placements):
        two sessions placed at the same moment from different nodes otherwise both read the same
        loads and both land on the same node.
        """
        live, _, info = await self.registry.census_with_info()
        async with self._redis.pipeline(transaction=True) as pipe:
            for _ in range(_PLACE_ATTEMPTS):
                try:
                    await pipe.watch(self._sessions_key)
                    if await pipe.hexists(self._sessions_key, session_id):
                        return None
                    placements = [text(v) for v in await pipe.hvals(self._sessions_key)]
                    target = self._select(live, placements, info)
                    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py, untyped
                    pipe.hset(self._sessions_key, session_id, target)
                    await pipe.execute()
                    return target
                except WatchError:
                    continue  # another placement or release landed in between: count again
        # Placements kept changing under us: settle for a claim that may be a little uneven.
        target = self._select(live, [], info)
        claimed = await self._redis.hsetnx(self._sessions_key, session_id, target)
        return target if claimed else None

    def _select(
        self, live: list[str], placements: list[str], info: dict[str, dict[str, Any]]
    ) -> str:
        """A live node with headroom (the selector's choice), sessions counted from the
        placements themselves (current), not from heartbeats (which lag); CPU, limits and
        draining from each node's last heartbeat (this node's own: as of now)."""
        counts = dict.fromkeys(live, 0)
        counts.setdefault(self.node_id, 0)
        for owner in placements:
            if owner in counts:
                counts[owner] += 1
        mine = self.gauge.load()
        loads = {
            node: NodeLoad(
                sessions=count,
                cpu=mine.cpu,
                cpu_limit=mine.cpu_limit,
                max_sessions=mine.max_sessions,
                draining=mine.draining,
            )
            if node == self.node_id
            else NodeLoad.from_json(info.get(node, {}), sessions=count)
            for node, count in counts.items()
        }
        target = self._selector.select(self.node_id, loads)
        if target is None:
            raise NoCapacity
        return target

    async def _may_host(self, session_id: str) -> bool:
        # Checked again when the host is created: the placement may have been released meanwhile.
        return await self.owner_of(session_id) == self.node_id

    async def _release(self, session_id: str) -> None:
        await self._redis.eval(_RELEASE_OWNER, 1, self._sessions_key, session_id, self.node_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.registry.beat(self.gauge.load(), self.host)
                await self._sweep()
                await self._keep_or_hand_over()
            except Exception:
                if tasks.cancelled():
                    raise asyncio.CancelledError from None  # a cancel redis-py turned into an error
                log.exception("heartbeat failed")

    async def _sweep(self) -> None:
        """The fallback for deaths no traffic revealed: any node whose channel is empty or whose
        heartbeat is stale is declared dead (by whichever live node sweeps first)."""
        _, dead = await self.registry.census()
        for node_id, why in dead.items():
            await self.declare_dead(node_id, why)

    async def _keep_or_hand_over(self) -> None:
        """Sessions hosted here must still be placed here. After a mistaken declaration (this
        node's pub/sub connection blinked) a placement may be gone: taken back if nobody took
        it; if another node took it, the clients here are sent there (1012)."""
        hosted = self.local.hosted_sessions()
        if not hosted or self.gauge.draining:
            return  # a draining node gives its placements up on purpose
        # One HMGET per beat for all of them (a node hosts dozens: not a round trip each).
        placed = await self._redis.hmget(self._sessions_key, hosted)
        for session_id, owner in zip(hosted, placed, strict=True):
            if owner is None:
                if await self._redis.hsetnx(self._sessions_key, session_id, self.node_id):
                    continue
                owner = await self._redis.hget(self._sessions_key, session_id)
            if owner is not None and text(owner) != self.node_id:
                host = self.local.get_host(session_id)
                if host is not None:
                    log.warning("session %s moved to node %s", session_id, text(owner))
                    await host.shutdown(CloseCode.SERVICE_RESTART, "session moved")

    # --- dead nodes ----------------------------------------------------------------------------

    async def declare_dead(self, node_id: str, why: str) -> bool:
        """True when this node declared it (and so runs the repair listeners)."""
        down = await self.registry.declare_dead(node_id, why)
        if down is None:
            return False
        self._dead.add(node_id)
        for listener in self._down_listeners:
            self._spawn(listener(down))
        return True

    async def _unheard(self, node_id: str) -> None:
        """A message to `node_id` reached nobody."""
        if node_id == self.node_id or node_id in self._dead:
            self._node_down(node_id)
            return
        if await self.registry.silent(node_id):
            await self.declare_dead(node_id, "a message reached nobody")
        # Whoever declared it, nothing here waits on the dead node any more.
        self._node_down(node_id)

    def _node_down(self, node_id: str) -> None:
        """Sockets here served by the dead node are closed with 1012 (their clients reconnect
        at once, and the session is placed on a live node); connections served here whose
        socket was on the dead node are gone (their participants' grace begins)."""
        self._dead.add(node_id)
        for conn_id, origin in list(self._origin.items()):
            if origin.owner == node_id:
                del self._origin[conn_id]
                origin.serial.put(_moving(origin.conn))
                origin.serial.finish()
        for conn_id, proxied in list(self._proxied.items()):
            if proxied.origin == node_id:
                del self._proxied[conn_id]
                proxied.serial.put(_gone(proxied.handle))
                proxied.serial.finish()

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("inter-node work failed")

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- messaging between nodes --------------------------------------------------------------

    async def publish(self, node_id: str, **envelope: Any) -> bool:
        """False when it reached nobody: the node is gone (what depended on it is undone)."""
        delivered = await self._redis.publish(self.registry.channel(node_id), json.dumps(envelope))
        if delivered == 0:
            await self._unheard(node_id)
            return False
        return True

    async def forget_origin(self, conn_id: str) -> None:
        entry = self._origin.pop(conn_id, None)
        if entry is not None:
            entry.serial.finish()

    async def _listen(self) -> None:
        while True:
            try:
                async for message in self._pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        self._dispatch(json.loads(text(message["data"])))
                    except Exception:
                        log.exception("bad inter-node message")
            except asyncio.CancelledError:
                raise
            except Exception:
                if tasks.cancelled():
                    raise asyncio.CancelledError from None  # a cancel redis-py turned into an error
                # redis-py subscribes again when it reconnects; meanwhile others may call this
                # node dead, and _keep_or_hand_over sorts out its sessions afterwards.
                log.exception("lost the pub/sub connection; listening again")
                await asyncio.sleep(1.0)

    def _dispatch(self, env: dict[str, Any]) -> None:
        op = env["op"]
        if op == "connect":
            self._accept(env)
        elif op in ("receive", "disconnected"):
            proxied = self._proxied.get(env["conn"])
            if proxied is not None:
                box = proxied.handle
                if op == "receive":
                    raw = str(env["raw"])
                    proxied.serial.put(lambda: box[0].receive(raw))
                else:
                    proxied.serial.put(lambda: box[0].disconnected())
                    proxied.serial.finish()
                    del self._proxied[env["conn"]]
        elif op in ("send", "close"):
            origin = self._origin.get(env["conn"])
            if origin is not None:
                conn = origin.conn
                if op == "send":
                    message = str(env["text"])
                    origin.serial.put(lambda: conn.send(message))
                else:
                    code, reason = int(env["code"]), str(env["reason"])
                    origin.serial.put(lambda: conn.close(code, reason))
        elif op == "revoke_link":
            session_id, link_id = str(env["session"]), str(env["link_id"])
            self._spawn(self.local.revoke_link(session_id, link_id))
        elif op == "end_session":
            self._spawn(self.local.end_session(str(env["session"])))
        elif op == "node_down":
            self._node_down(parse_node_down(env).node_id)
        elif op == "drain":
            self.start_drain(float(env.get("deadline", 600.0)))
        elif op == "node_exited":
            # A supervisor saw the process end: every node races to declare it, one wins.
            self._spawn(self._declare_quietly(str(env["node"])))

    # --- draining -----------------------------------------------------------------------------

    def add_drained_listener(
        self, listener: Callable[[], Awaitable[None]], *, when_empty: bool = False
    ) -> None:
        """Called once the node has drained (or its deadline passed): the server exits. With
        ``when_empty``: as soon as nothing is hosted here any more, before the linger."""
        (self._emptied_listeners if when_empty else self._drained_listeners).append(listener)

    def start_drain(self, deadline: float) -> None:
        """Begin draining (once; a second request changes nothing)."""
        if self._draining is None:
            # At once: a join handled before the task first runs finds the node closed.
            self.gauge.draining = True
            self._draining = asyncio.create_task(self.drain(deadline))

    async def drain(self, deadline: float) -> bool:
        """Take no new session and move everything here to other nodes; True when nothing was
        left before ``deadline`` seconds. Then the drained listeners run."""
        self.gauge.draining = True
        # At once, not at the next beat: no node places a new session here from now on.
        await self.registry.beat(self.gauge.load(), self.host)
        log.warning("draining node %s (deadline %.0f s)", self.node_id, deadline)
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        # Polled: what empties the node (sockets closing, clients leaving) happens in many
        # other tasks, and a socket may still arrive before the load balancer stops sending:
        # empty for `drain_linger` seconds in a row, or the deadline.
        empty_since: float | None = None
        while loop.time() < until:
            empty = self._move_everything()
            if not empty:
                empty_since = None
            elif empty_since is None:
                empty_since = loop.time()
                await self._run_listeners(self._emptied_listeners)
                self._emptied_listeners = []
            if empty_since is not None and loop.time() - empty_since >= self._drain_linger:
                break
            await asyncio.sleep(min(_DRAIN_POLL_SECONDS, self._drain_linger or _DRAIN_POLL_SECONDS))
        empty = self._move_everything()
        if empty:
            log.warning("node %s drained", self.node_id)
        else:
            log.warning("node %s still had connections at its drain deadline", self.node_id)
        await self._redis.sadd(drained_key(self._prefix), self.node_id)
        await self._run_listeners([*self._emptied_listeners, *self._drained_listeners])
        return empty

    @staticmethod
    async def _run_listeners(listeners: list[Callable[[], Awaitable[None]]]) -> None:
        for listener in listeners:
            try:
                await listener()
            except Exception:
                log.exception("a drain listener failed")

    def _move_everything(self) -> bool:
        """One pass: every session hosted here shut down with 1012 (its clients reconnect and
        are placed on another node), every socket here served by another node closed with 1012
        (its client reconnects through the load balancer). True when nothing was left."""
        hosts = [self.local.get_host(s) for s in self.local.hosted_sessions()]
        for host in hosts:
            if host is not None and not host.closed:
                self._spawn(self._move(host))
        origins = list(self._origin.values())
        self._origin.clear()
        for origin in origins:
            origin.serial.put(_moving(origin.conn))
            origin.serial.finish()
        return not hosts and not origins and not self._background

    async def _move(self, host: SessionHost) -> None:
        # The placement goes first: a client that reconnects at once is placed on another node,
        # not sent back here to a session that is closing.
        await self._release(host.session_id)
        await host.shutdown(CloseCode.SERVICE_RESTART, "node draining")

    async def _declare_quietly(self, node_id: str) -> None:
        await self.declare_dead(node_id, "its process exited")

    def _accept(self, env: dict[str, Any]) -> None:
        conn_id, origin = str(env["conn"]), str(env["origin"])
        session_id, remote = str(env["session"]), env.get("remote")
        identity = _identity_from_json(env.get("identity"))
        proxied = _Proxied([], origin, _Serial())
        self._proxied[conn_id] = proxied

        async def open_handle() -> None:
            conn = _RemoteConnection(self, origin, conn_id)
            proxied.handle.append(await self.local.connect(session_id, conn, identity, remote))

        proxied.serial.put(open_handle)
