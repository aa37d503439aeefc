"""Sessions hosted in this process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from signaling.participant import ClientLink, Participant
from signaling.placement import NoCapacity
from signaling.ports import (
    Connection,
    Identity,
    MediaRelayPort,
    SessionBackend,
    SessionRecord,
    SessionTapsFactory,
)
from signaling.protocol import (
    CloseCode,
    Error,
    Join,
    Ping,
    Pong,
    ProtocolError,
    parse_client_message,
)
from signaling.ratelimit import TokenBucket
from signaling.session import SessionConfig, SessionHost
from signaling.tokens import TokenSigner

log = logging.getLogger(__name__)

HostFactory = Callable[[SessionRecord], SessionHost]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SessionHostFactory:
    """The usual factory: one media room per session, named by the session id."""

    def __init__(
        self,
        relay: MediaRelayPort,
        backend: SessionBackend,
        signer: TokenSigner,
        config: SessionConfig,
        clock: Callable[[], datetime] = _utcnow,
        taps: SessionTapsFactory | None = None,
    ) -> None:
        self._relay = relay
        self._backend = backend
        self._signer = signer
        self._config = config
        self._clock = clock
        # None: signaling.untapped (records nothing); the server passes its media recorder.
        self._taps = taps

    def __call__(self, record: SessionRecord) -> SessionHost:
        session_id = record.session_id

        async def release() -> None:
            await self._relay.close_room(session_id)

        room = self._relay.room(session_id)
        taps = self._taps(session_id) if self._taps is not None else None
        return SessionHost(
            record, room, release, self._backend, self._signer, self._config, self._clock, taps
        )


@dataclass(frozen=True)
class ConnectionLimits:
    rate: float = 20.0  # messages per second, sustained
    burst: float = 40.0
    # Invalid frames tolerated before the connection is closed with 1008.
    max_strikes: int = 5
    # Refused requests (forbidden, not admitted, publish not allowed) tolerated before 1008.
    max_refusals: int = 10
    send_timeout: float = 5.0


class LocalHandle:
    def __init__(
        self,
        router: LocalRouter,
        session_id: str,
        conn: Connection,
        identity: Identity,
        remote: str | None,
    ) -> None:
        limits = router.limits
        self._router = router
        self._session_id = session_id
        self._identity = identity
        self._link = ClientLink(conn, remote, limits.send_timeout)
        self._bucket = TokenBucket(limits.rate, limits.burst)
        self._strikes = 0
        self._max_strikes = limits.max_strikes
        self._max_refusals = limits.max_refusals
        self._host: SessionHost | None = None
        self._who: Participant | None = None

    async def receive(self, raw: str) -> None:
        link = self._link
        if link.closed:
            return
        if not self._bucket.take():
            await link.send(Error(code="rate_limited", message="too many messages"))
            await link.close(CloseCode.POLICY_VIOLATION, "rate limited")
            await self.disconnected()
            return
        try:
            msg = parse_client_message(raw)
        except ProtocolError as exc:
            await link.send(Error(code=exc.code, message=exc.message))
            await self._strike(exc.close_code)
            return
        except Exception:
            # A frame the parser should have refused cleanly: a bug, logged, still a strike.
            log.exception("unparseable frame in session %s", self._session_id)
            await link.send(Error(code="invalid_message", message="message not understood"))
            await self._strike(None)
            return
        try:
            if isinstance(msg, Ping):
                await link.send(Pong())
            elif self._host is None or self._who is None:
                if not isinstance(msg, Join):
                    await link.send(Error(code="not_joined", message="send join first"))
                    await self._strike(None)
                    return
                await self._join(msg)
            else:
                await self._host.handle(self._who, link, msg)
        except Exception:
            log.exception("error handling a message in session %s", self._session_id)
            await link.send(Error(code="internal", message="internal error"))
        if link.refusals >= self._max_refusals and not link.closed:
            await link.close(CloseCode.POLICY_VIOLATION, "too many refused messages")
            await self.disconnected()

    async def _join(self, msg: Join) -> None:
        host = await self._router.host_for(self._session_id, self._link)
        if host is None:
            return
        self._who = await host.join(self._link, self._identity, msg)
        if self._who is not None:
            self._host = host

    async def _strike(self, close_code: int | None) -> None:
        self._strikes += 1
        if close_code is None and self._strikes >= self._max_strikes:
            close_code = CloseCode.POLICY_VIOLATION
        if close_code is not None:
            await self._link.close(close_code, "protocol violation")
            await self.disconnected()

    async def disconnected(self) -> None:
        self._link.closed = True
        if self._host is not None and self._who is not None:
            host, who = self._host, self._who
            self._host = self._who = None
            await host.disconnected(who, self._link)
        else:
            await self._router.release_if_unhosted(self._session_id)


class LocalRouter:
    def __init__(
        self,
        backend: SessionBackend,
        host_factory: HostFactory,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._backend = backend
        self._factory = host_factory
        self.limits = limits or ConnectionLimits()
        self._hosts: dict[str, SessionHost] = {}
        self._creating = asyncio.Lock()
        self._closed_listeners: list[Callable[[str], Awaitable[None]]] = []
        # Set by a wrapping router that decides where sessions live: may this process host it?
        # (It raises NoCapacity when no node can take a new session.)
        self.placement: Callable[[str], Awaitable[bool]] | None = None
        # May this process start hosting one more session (not draining, under its limits)?
        self.has_room: Callable[[], bool] | None = None

    def add_session_closed_listener(self, listener: Callable[[str], Awaitable[None]]) -> None:
        """Called with a session id when this process stops hosting it (or never will)."""
        self._closed_listeners.append(listener)

    def get_host(self, session_id: str) -> SessionHost | None:
        return self._hosts.get(session_id)

    def hosted_sessions(self) -> list[str]:
        return list(self._hosts)

    async def connect(
        self, session_id: str, conn: Connection, identity: Identity, remote: str | None
    ) -> LocalHandle:
        return LocalHandle(self, session_id, conn, identity, remote)

    async def host_for(self, session_id: str, link: ClientLink) -> SessionHost | None:
        """The live host, created on first join; refuses (and closes `link`) when there is none."""
        async with self._creating:
            host = self._hosts.get(session_id)
            if host is not None and not host.closed:
                return host
            record = await self._backend.load_session(session_id)
            if record is None:
                await link.send(Error(code="session_not_found", message="no such session"))
                await link.close(CloseCode.NOT_FOUND, "session_not_found")
                await self.release_if_unhosted(session_id)
                return None
            if record.state == "ended":
                await link.send(Error(code="session_ended", message="session has ended"))
                await link.close(CloseCode.GONE, "session_ended")
                await self.release_if_unhosted(session_id)
                return None
            try:
                if self.placement is not None and not await self.placement(session_id):
                    # Another node took the session meanwhile: the client reconnects there.
                    await link.send(Error(code="internal", message="session moved, reconnect"))
                    await link.close(CloseCode.SERVICE_RESTART, "session moved")
                    return None
                if self.has_room is not None and not self.has_room():
                    raise NoCapacity
            except NoCapacity:
                await self._refuse_busy(session_id, link)
                return None
            host = self._factory(record)
            host.add_close_listener(self._forget)
            self._hosts[session_id] = host
            return host

    async def _refuse_busy(self, session_id: str, link: ClientLink) -> None:
        """No node can take a new session now: said plainly, and the client tries again later
        (1013) rather than joining a node that would slow every call on it."""
        log.warning("refused session %s: no node has room for a new session", session_id)
        await link.send(
            Error(
                code="server_busy",
                message="All video servers are busy right now; trying again in a moment.",
            )
        )
        await link.close(CloseCode.TRY_AGAIN_LATER, "no capacity")
        await self.release_if_unhosted(session_id)

    async def release_if_unhosted(self, session_id: str) -> None:
        """A connection that never got a host (refused, or gone before joining) frees the slot."""
        if session_id not in self._hosts:
            for listener in self._closed_listeners:
                await listener(session_id)

    async def _forget(self, host: SessionHost) -> None:
        if self._hosts.get(host.session_id) is host:
            del self._hosts[host.session_id]
            for listener in self._closed_listeners:
                await listener(host.session_id)

    async def revoke_link(self, session_id: str, link_id: str) -> None:
        host = self._hosts.get(session_id)
        if host is not None:
            await host.revoke_link(link_id)

    async def end_session(self, session_id: str) -> None:
        host = self._hosts.get(session_id)
        if host is not None:
            await host.end()
        else:
            # Nobody connected here: still record the end so later joins are refused.
            await self._backend.session_state_changed(session_id, "ended")

    async def close(self) -> None:
        for host in list(self._hosts.values()):
            await host.shutdown()
        self._hosts.clear()
