"""A participant of a live session and the outbound side of its current connection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from signaling.ports import Connection
from signaling.protocol import CloseCode, Error, ParticipantInfo, Role, _Message, encode

log = logging.getLogger(__name__)

Phase = Literal["lobby", "present", "reconnecting", "left", "removed"]


# Answers that refuse what a client asked for. One now and then is a race (a message sent just
# before admission); many from one connection is a client probing or stuck in a loop.
REFUSALS = frozenset({"forbidden", "not_admitted", "publish_not_allowed"})


class ClientLink:
    """Sends to one connection; a slow or broken peer is cut off instead of stalling the session."""

    def __init__(self, conn: Connection, remote: str | None, send_timeout: float = 5.0) -> None:
        self.conn = conn
        self.remote = remote
        self.closed = False
        self.refusals = 0
        self._send_timeout = send_timeout

    async def send(self, message: _Message) -> None:
        if self.closed:
            return
        if isinstance(message, Error) and message.code in REFUSALS:
            self.refusals += 1
        try:
            async with asyncio.timeout(self._send_timeout):
                await self.conn.send(encode(message))
        except TimeoutError:
            await self.close(CloseCode.POLICY_VIOLATION, "slow consumer")
        except Exception:
            # The transport is gone; its handler will report the disconnect.
            log.debug("send failed", exc_info=True)
            self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.conn.close(code, reason)
        except Exception:
            log.debug("close failed", exc_info=True)


@dataclass(eq=False)
class Participant:
    participant_id: str
    role: Role
    name: str
    since: datetime
    # Link holders only: what their credential is bound to.
    link_id: str | None = None
    client_id: str | None = None
    link_expires_at: datetime | None = None
    location: str | None = None
    # Therapist only.
    user_id: str | None = None
    # A publish-only source (a shared screen, a second camera): whose it is.
    source_of: str | None = None
    phase: Phase = "lobby"
    link: ClientLink | None = None
    audio: bool = False
    video: bool = False
    in_media: bool = False
    grace: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return f"participant:{self.participant_id}"

    @property
    def remote(self) -> str | None:
        return self.link.remote if self.link else None

    def info(self) -> ParticipantInfo:
        return ParticipantInfo(
            participant_id=self.participant_id,
            name=self.name,
            role=self.role,
            audio=self.audio,
            video=self.video,
            status="reconnecting" if self.phase == "reconnecting" else "present",
            since=self.since,
            source_of=self.source_of,
        )

    async def send(self, message: _Message) -> None:
        if self.link is not None:
            await self.link.send(message)

    def cancel_grace(self) -> None:
        if self.grace is not None and not self.grace.done():
            self.grace.cancel()
        self.grace = None
