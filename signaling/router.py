"""What the server's WebSocket handler talks to: it pumps frames, it never touches a session."""

from __future__ import annotations

from typing import Protocol

from signaling.ports import Connection, Identity


class ConnectionHandle(Protocol):
    async def receive(self, raw: str) -> None:
        """One text frame from the client, in order; returns when it has been handled."""

    async def disconnected(self) -> None:
        """The transport is gone (always call it, also after the router closed the connection)."""


class Router(Protocol):
    async def connect(
        self, session_id: str, conn: Connection, identity: Identity, remote: str | None
    ) -> ConnectionHandle: ...

    async def revoke_link(self, session_id: str, link_id: str) -> None:
        """Drop any connected holder of a link the server has just revoked."""

    async def end_session(self, session_id: str) -> None:
        """End a session from outside a connection (e.g. an HTTP action or a scheduler)."""

    async def close(self) -> None: ...
