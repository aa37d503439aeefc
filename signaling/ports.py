"""What the signaling layer needs from its surroundings: transport, identity, database, media."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from signaling.protocol import Role, SessionState

LinkStatus = Literal["ok", "revoked"]
Outcome = Literal["success", "denied", "failure"]


class Connection(Protocol):
    """One client's transport (a WebSocket in the server); text frames in, text frames out."""

    async def send(self, message_json: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class TherapistIdentity:
    """Authenticated by the server (session cookie) before the connection reaches a router."""

    user_id: str
    display_name: str


# Link holders (parents, observers) are anonymous at connect time: their token comes in `join`.
Identity = TherapistIdentity | None


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    therapist_user_id: str
    state: SessionState


class SessionBackend(Protocol):
    """Implemented by the server over its database; calls must not commit half-states."""

    async def load_session(self, session_id: str) -> SessionRecord | None: ...

    async def link_status(self, session_id: str, link_id: str) -> LinkStatus: ...

    async def audit(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        outcome: Outcome,
        detail: Mapping[str, str],
        remote: str | None,
    ) -> None: ...

    async def session_state_changed(self, session_id: str, state: SessionState) -> None: ...

    async def participant_joined(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None: ...

    async def participant_left(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None: ...


OnOffer = Callable[[str, int], Awaitable[None]]
OnState = Callable[[str], Awaitable[None]]


class MediaRoomPort(Protocol):
    """The part of `media.Room` the session drives (media/ is the source of truth)."""

    async def join(
        self,
        participant_id: str,
        *,
        publish: bool,
        on_offer: OnOffer,
        on_state: OnState | None = None,
    ) -> None: ...

    async def answer(self, participant_id: str, sdp: str, revision: int) -> None: ...

    async def leave(self, participant_id: str) -> None: ...

    async def request_keyframe(self, publisher_id: str) -> None: ...

    def participants(self) -> list[str]: ...

    async def close(self) -> None: ...


class MediaRelayPort(Protocol):
    """The part of `media.Relay` the host factory uses."""

    def room(self, room_id: str) -> MediaRoomPort: ...

    async def close_room(self, room_id: str) -> None: ...


@dataclass(frozen=True)
class MediaErrors:
    """The relay's exception classes, injected so that signaling is testable without media/."""

    negotiation: type[Exception]
    publish_not_allowed: type[Exception]
