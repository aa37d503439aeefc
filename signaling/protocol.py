"""Wire protocol between browser clients and the signaling layer (JSON text frames)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

PROTOCOL_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 64 * 1024
# Leaves room for the JSON envelope inside MAX_MESSAGE_BYTES.
MAX_SDP_CHARS: Final = 60 * 1024
MAX_NAME_CHARS: Final = 80
MAX_TOKEN_CHARS: Final = 2048
# The deepest valid message is `draw` (object > shapes > shape > points > point): 5 levels.
MAX_JSON_DEPTH: Final = 8


class CloseCode:
    """WebSocket close codes the signaling layer uses (docs/signaling.md, "Close codes")."""

    NORMAL: Final = 1000
    UNSUPPORTED_DATA: Final = 1003
    POLICY_VIOLATION: Final = 1008
    TOO_BIG: Final = 1009
    INTERNAL_ERROR: Final = 1011
    SERVICE_RESTART: Final = 1012
    TRY_AGAIN_LATER: Final = 1013
    REMOVED: Final = 4001
    ENDED: Final = 4002
    DECLINED: Final = 4003
    REPLACED: Final = 4004
    SILENT: Final = 4008
    SESSION_FULL: Final = 4029
    FORBIDDEN: Final = 4403
    NOT_FOUND: Final = 4404
    GONE: Final = 4410
    UNSUPPORTED_VERSION: Final = 4426


ErrorCode = Literal[
    "bad_json",
    "unknown_type",
    "invalid_message",
    "too_large",
    "rate_limited",
    "unsupported_version",
    "not_joined",
    "session_full",
    "location_required",
    "already_joined",
    "forbidden",
    "link_invalid",
    "link_gone",
    "session_not_found",
    "session_ended",
    "unknown_participant",
    "not_admitted",
    "publish_not_allowed",
    "negotiation_failed",
    "bad_state",
    "stale_request",
    "server_busy",
    "internal",
]

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
ClientId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP_CHARS)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
Role = Literal["therapist", "parent", "observer"]
SessionState = Literal["open", "live", "ended"]
RecordingState = Literal["off", "awaiting_consent", "recording", "paused", "stopped"]
NoteText = Annotated[str, Field(min_length=1, max_length=2000)]
TagLabel = Annotated[str, Field(min_length=1, max_length=40)]
CueLabel = Annotated[str, Field(min_length=1, max_length=40)]
CueText = Annotated[str, Field(min_length=1, max_length=140)]
ChatText = Annotated[str, Field(min_length=1, max_length=1000)]
Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
# Drawings use coordinates normalized to the target's video (0..1), so any tile size works.
Coord = Annotated[float, Field(ge=0.0, le=1.0)]


class _Message(BaseModel):
    # Unknown fields are refused so that a client built for a newer protocol fails loudly.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- client -> server -----------------------------------------------------------------------


class Join(_Message):
    type: Literal["join"]
    v: int
    client_id: ClientId
    token: Token | None = None
    rejoin: Token | None = None
    # A publish-only source of someone already in the room: the therapist's shared screen (its
    # identity from the cookie), or a second camera (`token`: a second-camera link).
    source: Literal["screen", "camera"] | None = None
    # A reconnecting client whose peer connection may still work: keep it if the relay can.
    resume_media: StrictBool = False


class Admit(_Message):
    type: Literal["admit"]
    participant_id: Id


class Decline(_Message):
    type: Literal["decline"]
    participant_id: Id


class Remove(_Message):
    type: Literal["remove"]
    participant_id: Id


class End(_Message):
    type: Literal["end"]


class Answer(_Message):
    type: Literal["answer"]
    sdp: Sdp
    revision: Annotated[int, Field(ge=0)]


class MediaState(_Message):
    type: Literal["media_state"]
    audio: bool
    video: bool


class Keyframe(_Message):
    type: Literal["keyframe"]
    publisher_id: Id


class Leave(_Message):
    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


class Record(_Message):
    type: Literal["record"]
    action: Literal["request", "pause", "resume", "stop"]


class Consent(_Message):
    type: Literal["consent"]
    request_id: Id
    # Strict: "yes", 1 or "on" must not count as someone's consent.
    accept: StrictBool


class ObserverAnnotations(_Message):
    type: Literal["observer_annotations"]
    allowed: bool


CandidateType = Literal["host", "srflx", "prflx", "relay"]
CandidateProtocol = Literal["udp", "tcp", "tls"]
Kbps = Annotated[float, Field(ge=0, le=100_000)]


class Quality(_Message):
    """A client's getStats summary of the last few seconds (docs/signaling.md, "Call quality").
    Strict bounds: a report is a handful of numbers, and what it says goes on the record."""

    type: Literal["quality"]
    seconds: Annotated[float, Field(gt=0, le=60)]  # the span this report covers
    send_kbps: Kbps
    recv_kbps: Kbps
    fps: Annotated[float, Field(ge=0, le=240)]  # received video, frames per second
    loss: Annotated[float, Field(ge=0, le=1)]  # received packets lost, fraction
    rtt_ms: Annotated[int, Field(ge=0, le=60_000)] | None
    freezes: Annotated[int, Field(ge=0, le=1000)]  # new video freezes in the span
    frozen_ms: Annotated[int, Field(ge=0, le=60_000)]  # frozen video time in the span
    candidate: CandidateType | None  # the selected pair's local candidate
    protocol: CandidateProtocol | None  # to the TURN server for "relay", else the pair's


class Note(_Message):
    type: Literal["note"]
    client_ref: Id
    text: NoteText
    target: Id | None = None
    goal_id: Id | None = None


class Tag(_Message):
    type: Literal["tag"]
    client_ref: Id
    tag: TagLabel
    target: Id | None = None
    goal_id: Id | None = None


class Undo(_Message):
    """Takes back one of the author's own tags (by its client_ref): stored as an annotation of
    its own, so the record keeps both and the tallies leave the undone tag out."""

    type: Literal["undo"]
    client_ref: Id
    undo_ref: Id


class Cue(_Message):
    """A coaching cue for the parent only: shown large on the parents' screens, never the
    observers'; stored as an annotation (recorded or not)."""

    type: Literal["cue"]
    client_ref: Id
    cue: CueLabel
    text: CueText | None = None


class Chat(_Message):
    """A short message or a link to everyone in the room; kept with the session's record."""

    type: Literal["chat"]
    client_ref: Id
    text: ChatText


class Shape(_Message):
    kind: Literal["stroke", "line", "arrow", "rect", "ellipse"]
    points: Annotated[list[tuple[Coord, Coord]], Field(min_length=1, max_length=500)]
    # A fraction of the video's width, like the coordinates.
    width: Annotated[float, Field(gt=0.0, le=0.1)] = 0.005


class Draw(_Message):
    type: Literal["draw"]
    client_ref: Id
    target: Id
    show_to: Annotated[list[Id], Field(max_length=16)]
    color: Color
    shapes: Annotated[list[Shape], Field(min_length=1, max_length=50)]
    fade_ms: Annotated[int, Field(ge=500, le=15_000)] = 4000


class Snapshot(_Message):
    type: Literal["snapshot"]
    client_ref: Id
    target: Id


AnnotationMessage = Note | Tag | Undo | Cue | Chat | Draw | Snapshot
ClientMessage = Annotated[
    Join
    | Admit
    | Decline
    | Remove
    | End
    | Answer
    | MediaState
    | Keyframe
    | Leave
    | Ping
    | Record
    | Consent
    | ObserverAnnotations
    | Quality
    | Note
    | Tag
    | Undo
    | Cue
    | Chat
    | Draw
    | Snapshot,
    Field(discriminator="type"),
]
CLIENT_TYPES: Final = frozenset(
    {
        "join",
        "admit",
        "decline",
        "remove",
        "end",
        "answer",
        "media_state",
        "keyframe",
        "leave",
        "ping",
        "record",
        "consent",
        "observer_annotations",
        "quality",
        "note",
        "tag",
        "undo",
        "cue",
        "chat",
        "draw",
        "snapshot",
    }
)

# --- server -> client -----------------------------------------------------------------------


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    participant_id: str
    role: Role
    state: SessionState
    lobby: bool
    ice_servers: list[IceServer] = []
    # The relay kept this participant's peer connection (`join.resume_media`): no offer follows.
    media_resumed: bool = False


class Waiting(_Message):
    participant_id: str
    name: str
    role: Role
    since: datetime
    # The US state the parent confirmed being in on the check page (licensure), if asked.
    location: str | None = None


class LobbyUpdate(_Message):
    type: Literal["lobby_update"] = "lobby_update"
    waiting: list[Waiting]


class Admitted(_Message):
    type: Literal["admitted"] = "admitted"
    rejoin: str | None


class Declined(_Message):
    type: Literal["declined"] = "declined"


class ParticipantInfo(_Message):
    participant_id: str
    name: str
    role: Role
    audio: bool
    video: bool
    status: Literal["present", "reconnecting"]
    since: datetime
    # A source (screen, second camera): the participant it belongs to.
    source_of: str | None = None


class Participants(_Message):
    type: Literal["participants"] = "participants"
    state: SessionState
    participants: list[ParticipantInfo]


class Offer(_Message):
    type: Literal["offer"] = "offer"
    sdp: str
    revision: int


class Removed(_Message):
    type: Literal["removed"] = "removed"
    reason: Literal["removed", "link_revoked"]


class Ended(_Message):
    type: Literal["ended"] = "ended"


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str


class Pong(_Message):
    type: Literal["pong"] = "pong"


class Reception(_Message):
    """What the relay sends this participant: ``audio_only`` while its connection cannot carry
    the video (an observer's weak link; docs/media.md, "Congestion control")."""

    type: Literal["reception"] = "reception"
    audio_only: bool


class LinkHint(_Message):
    """To the therapist: this participant's own reports say their link is weak (or fine again)."""

    type: Literal["link_hint"] = "link_hint"
    participant_id: str
    weak: bool
    reason: str | None = None


class ConsentRequest(_Message):
    type: Literal["consent_request"] = "consent_request"
    request_id: str
    text: str
    version: str


class DeclinedBy(_Message):
    participant_id: str
    name: str


class Recording(_Message):
    type: Literal["recording"] = "recording"
    state: RecordingState
    pending: list[str]
    declined: list[DeclinedBy]
    started_at: datetime | None
    offset_ms: int
    # The open consent request (so a reloaded page can still withdraw), and whether the
    # therapist paused (the state alone cannot say so while consent is awaited).
    request_id: str | None = None
    held: bool = False


class TagOptionInfo(_Message):
    label: str
    goal_id: str | None


class GoalInfo(_Message):
    goal_id: str
    name: str


class AnnotationSettings(_Message):
    type: Literal["annotation_settings"] = "annotation_settings"
    observers_may_annotate: bool
    tags: list[TagOptionInfo]
    # The client's goals that have tags (their short names), in the plan's order; empty for a
    # session without a client or a client whose tags name no goal.
    goals: list[GoalInfo] = []
    # The therapist's coaching cues: the plan's own, or the defaults.
    cues: list[str] = []


class TaggedInfo(_Message):
    client_ref: str
    kind: Literal["tag", "undo"]
    tag: str | None
    goal_id: str | None
    undo_ref: str | None
    session_ms: int


class AnnotationHistory(_Message):
    """The tags (and undos) this host saved, for a therapist's page that (re)enters: its tallies
    and undo go on from where they were."""

    type: Literal["annotation_history"] = "annotation_history"
    items: list[TaggedInfo]


class AnnotationSaved(_Message):
    type: Literal["annotation_saved"] = "annotation_saved"
    client_ref: str
    annotation_id: str
    session_ms: int
    recording_ms: int | None


class AnnotationFailed(_Message):
    type: Literal["annotation_failed"] = "annotation_failed"
    client_ref: str
    reason: Literal["not_saved", "no_frame"]


class CueShown(_Message):
    type: Literal["cue"] = "cue"
    author_id: str
    cue: str
    text: str | None
    session_ms: int


class ChatMessage(_Message):
    type: Literal["chat"] = "chat"
    author_id: str
    name: str
    role: Role
    text: str
    session_ms: int
    at: datetime


class Drawing(_Message):
    type: Literal["drawing"] = "drawing"
    author_id: str
    target: str
    color: str
    shapes: list[Shape]
    fade_ms: int
    session_ms: int


ServerMessage = Annotated[
    Welcome
    | LobbyUpdate
    | Admitted
    | Declined
    | Participants
    | Offer
    | Removed
    | Ended
    | Error
    | Pong
    | Reception
    | LinkHint
    | ConsentRequest
    | Recording
    | AnnotationSettings
    | AnnotationHistory
    | AnnotationSaved
    | AnnotationFailed
    | CueShown
    | ChatMessage
    | Drawing,
    Field(discriminator="type"),
]

_CLIENT: Final = TypeAdapter[ClientMessage](ClientMessage)
_SERVER: Final = TypeAdapter[ServerMessage](ServerMessage)


class ProtocolError(Exception):
    """A client frame that cannot be accepted; `close_code` set means the connection must close."""

    def __init__(self, code: ErrorCode, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.close_code = close_code


def parse_client_message(raw: str) -> ClientMessage:
    # Measure bytes, not characters: the limit protects memory and matches the WebSocket frame size.
    if len(raw) > MAX_MESSAGE_BYTES or len(raw.encode("utf-8")) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", "message exceeds 64 KiB", CloseCode.TOO_BIG)
    try:
        data: Any = json.loads(raw)
    except ValueError:
        raise ProtocolError("bad_json", "message is not valid JSON") from None
    except RecursionError:
        # json's C scanner recurses per level: 20,000 nested brackets exhaust the stack.
        raise ProtocolError("invalid_message", "message is nested too deeply") from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise ProtocolError("invalid_message", "message is nested too deeply")
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError("unknown_type", "unknown message type")
    try:
        return _CLIENT.validate_python(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) or kind for e in exc.errors()})
        raise ProtocolError("invalid_message", f"invalid fields: {', '.join(fields)}") from None


def _depth_exceeds(data: Any, limit: int) -> bool:
    # Iterative, so a deep value cannot recurse here either; cost follows the message's size.
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def encode(message: _Message) -> str:
    return message.model_dump_json(exclude_none=False)


def parse_server_message(raw: str) -> ServerMessage:
    """For clients and tests: the inverse of `encode`."""
    return _SERVER.validate_json(raw)
