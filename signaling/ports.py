"""What the signaling layer needs from its surroundings: transport, identity, database, media."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from signaling.protocol import (
    ChatMessage,
    Quality,
    RecordingState,
    Role,
    SessionState,
    TaggedInfo,
)

# "location_required": a parent of a visit under the licensure gate has not confirmed, on the
# check page, a state the therapist may see them in (the gate runs on the server at join).
LinkStatus = Literal["ok", "revoked", "location_required"]
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
class LinkInfo:
    """What the server's records say about a join link (never the token: it carries ids only)."""

    status: LinkStatus
    display_name: str
    # The state the holder confirmed being in (two letters), shown to the therapist in the lobby.
    location: str | None = None


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    therapist_user_id: str
    state: SessionState
    # The session clock (annotations' session_ms) counts from here; kept across host restarts.
    live_at: datetime | None = None
    # The therapist's participant id in an earlier host of this session (before a restart, or
    # on a node that died): the therapist keeps it, so attendance counts one therapist.
    therapist_participant_id: str | None = None
    # A recording was made here before this host existed; it is stopped now (a host never
    # inherits one), and pages entering are told so.
    recorded_before: bool = False


@dataclass(frozen=True)
class PastParticipant:
    """What the server's records say about a participant id of a session. A host that has no
    roster entry for the holder of a rejoin credential (a restart, a node taking the session
    over) checks the credential against this."""

    role: Role
    # The therapist removed them: their rejoin credential stays void.
    removed: bool


@dataclass(frozen=True)
class ConsentText:
    """Exactly what a participant is shown before recording; stored with every decision."""

    text: str
    version: str


@dataclass(frozen=True)
class TagOption:
    label: str
    goal_id: str | None = None
    # The goal's short name (from the client's active plan), shown above its tags in the call.
    goal_name: str | None = None


@dataclass(frozen=True)
class ConsentDecision:
    recording_id: str
    request_id: str
    participant_id: str
    role: Role
    name: str
    user_id: str | None
    link_id: str | None
    accepted: bool
    text: str
    version: str
    at: datetime


@dataclass(frozen=True)
class RecordingUpdate:
    """A change of a recording's state; `offset_ms` is recorded time so far (pauses excluded)."""

    recording_id: str
    state: RecordingState
    at: datetime
    offset_ms: int
    requested_by: str
    participant_ids: tuple[str, ...]


AnnotationKind = Literal["note", "tag", "drawing", "snapshot", "undo", "cue", "chat"]


@dataclass(frozen=True)
class AnnotationDraft:
    author_participant_id: str
    author_role: Role
    author_user_id: str | None
    author_link_id: str | None
    kind: AnnotationKind
    session_ms: int
    recording_ms: int | None
    recording_id: str | None
    at: datetime
    text: str | None = None
    tag: str | None = None
    goal_id: str | None = None
    target_participant_id: str | None = None
    payload: Mapping[str, Any] | None = None
    # Snapshots only: the encoded frame as the media frame tap returned it.
    image: bytes | None = None
    # The author's own id for it: a resend after a lost ack must not store it twice.
    client_ref: str | None = None


@dataclass(frozen=True)
class SavedAnnotation:
    """What was committed; for a resend, the first save's values."""

    annotation_id: str
    session_ms: int
    recording_ms: int | None


@dataclass(frozen=True)
class CallHistory:
    """What the session's record holds of what a host replays to whoever enters the room: the
    latest chat messages and tags (with undos), each oldest first, as the host that saw them
    sent them. A new host (a restart, a node taking the session over) starts from it."""

    chat: Sequence[ChatMessage] = ()
    tagged: Sequence[TaggedInfo] = ()


class SessionBackend(Protocol):
    """Implemented by the server over its database; calls must not commit half-states."""

    async def load_session(self, session_id: str) -> SessionRecord | None: ...

    async def link_info(self, session_id: str, link_id: str) -> LinkInfo | None:
        """None: no such link for this session."""
        ...

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

    async def past_participant(
        self, session_id: str, participant_id: str
    ) -> PastParticipant | None:
        """None: this participant id was never in the room of this session."""
        ...

    async def participant_removed(self, session_id: str, participant_id: str, at: datetime) -> None:
        """Stored so that the removal outlives this host (a restart must not revive it)."""
        ...

    async def quality_reported(
        self, session_id: str, participant_id: str, role: Role, name: str, report: Quality,
        at: datetime,
    ) -> None:  # fmt: skip
        """A client's getStats summary (docs/signaling.md, "Call quality"), added to its record."""
        ...

    async def consent_text(self, session_id: str) -> ConsentText: ...

    async def annotation_tags(self, session_id: str) -> Sequence[TagOption]: ...

    async def claim_second_camera(self, session_id: str, code: str) -> str | None:
        """Spends a second-camera link: the participant it is bound to; None: unknown, used or
        expired."""
        ...

    async def coaching_cues(self, session_id: str) -> Sequence[str]:
        """The plan's own cues for the session's client; empty: the defaults."""
        ...

    async def consent_recorded(self, session_id: str, decision: ConsentDecision) -> None: ...

    async def recording_changed(self, session_id: str, update: RecordingUpdate) -> None: ...

    async def save_annotation(self, session_id: str, draft: AnnotationDraft) -> SavedAnnotation:
        """Returns only once committed (the client's ack waits on it); idempotent per client_ref."""
        ...

    async def call_history(self, session_id: str, chat_limit: int, tag_limit: int) -> CallHistory:
        """The latest `chat_limit` chat messages and `tag_limit` tags and undos (those saved
        with a client_ref) of the session, each oldest first."""
        ...


OnOffer = Callable[[str, int], Awaitable[None]]
OnState = Callable[[str], Awaitable[None]]
OnAudioOnly = Callable[[bool], Awaitable[None]]


class MediaRoomPort(Protocol):
    """The part of `media.Room` the session drives (media/ is the source of truth)."""

    async def join(
        self,
        participant_id: str,
        *,
        publish: bool,
        on_offer: OnOffer,
        on_state: OnState | None = None,
        on_audio_only: OnAudioOnly | None = None,
        receive: bool = True,
    ) -> None: ...

    async def answer(self, participant_id: str, sdp: str, revision: int) -> None: ...

    async def leave(self, participant_id: str) -> None: ...

    async def request_keyframe(self, publisher_id: str) -> None: ...

    def resumable(self, participant_id: str) -> bool:
        """Its peer connection may carry on after its signaling reconnected."""
        ...

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


class RecorderPort(Protocol):
    """One session's recorder (the server wraps the media recorder).

    The session calls `start` only when every present participant has consented, and `pause`
    before anyone who has not consented is in the room; `add_participant` only for people who
    have consented. Nothing may be written while paused.
    """

    async def start(self, participant_ids: Sequence[str]) -> None: ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def stop(self) -> None: ...

    async def add_participant(self, participant_id: str) -> None: ...

    async def remove_participant(self, participant_id: str) -> None: ...


class SnapshotPort(Protocol):
    """A still of a participant's live video (the media frame tap); None when there is no frame."""

    async def snapshot(self, participant_id: str) -> bytes | None: ...


@dataclass(frozen=True)
class SessionTaps:
    recorder: RecorderPort
    snapshots: SnapshotPort


# Called once per session host, with the session id (the media room id).
SessionTapsFactory = Callable[[str], SessionTaps]
