"""In-memory stand-ins for the server's backend, the media relay and the WebSocket transport."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from signaling.local_router import ConnectionLimits, LocalRouter, SessionHostFactory
from signaling.ports import (
    AnnotationDraft,
    CallHistory,
    ConsentDecision,
    ConsentText,
    LinkInfo,
    MediaErrors,
    OnAudioOnly,
    OnOffer,
    OnState,
    Outcome,
    PastParticipant,
    RecordingUpdate,
    SavedAnnotation,
    SessionBackend,
    SessionRecord,
    SessionTaps,
    SessionTapsFactory,
    TagOption,
)
from signaling.protocol import ChatMessage, Quality, Role, SessionState, TaggedInfo
from signaling.session import SessionConfig
from signaling.tokens import TokenSigner, new_join_link_claim

SECRET = "test-secret-please-ignore"
# Link id -> the name the therapist gave the link: what the server's join_links table holds.
# Shared by every MemoryBackend of the test process (link ids are random: no clashes).
LINK_NAMES: dict[str, str] = {}
# Generous: only a hang should hit it; no test asserts speed.
WAIT_SECONDS = 5.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until `check()` holds (work forwarded through Redis or timers completes later)."""
    for _ in range(int(WAIT_SECONDS / 0.01)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


class FakeNegotiationError(Exception):
    pass


class FakePublishNotAllowed(Exception):
    pass


@dataclass
class AuditEntry:
    actor: str
    action: str
    object_id: str
    outcome: Outcome
    detail: Mapping[str, str]


@dataclass
class MemoryBackend:
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    audits: list[AuditEntry] = field(default_factory=list)
    states: list[tuple[str, SessionState]] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)
    # What a database keeps across hosts: each (session, participant) that was in the room, with
    # its role; and the removals.
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    removed: set[tuple[str, str]] = field(default_factory=set)
    quality: list[tuple[str, Quality]] = field(default_factory=list)
    consents: list[ConsentDecision] = field(default_factory=list)
    recording_updates: list[RecordingUpdate] = field(default_factory=list)
    annotations: dict[str, AnnotationDraft] = field(default_factory=dict)
    # Set to hold saves (an ack must wait for them); `fail_saves` makes them raise.
    save_gate: asyncio.Event | None = None
    fail_saves: bool = False
    # Set to make reading the call history back raise (a database hiccup at a host's first join).
    fail_history: bool = False
    cues: list[str] = field(default_factory=list)
    # Second-camera link codes -> the participant each is bound to.
    camera_codes: dict[str, str] = field(default_factory=dict)
    fail_consents: bool = False
    consent_version: str = "test-1"
    # Link ids whose holder has not confirmed a licensed location; confirmed ones by link id.
    location_required: set[str] = field(default_factory=set)
    locations: dict[str, str] = field(default_factory=dict)

    def add(self, session_id: str, therapist: str = "u1") -> None:
        self.sessions[session_id] = SessionRecord(session_id, therapist, "open")

    async def load_session(self, session_id: str) -> SessionRecord | None:
        return self.sessions.get(session_id)

    async def link_info(self, session_id: str, link_id: str) -> LinkInfo | None:
        name = LINK_NAMES.get(link_id)
        if name is None:
            return None
        if link_id in self.revoked:
            return LinkInfo("revoked", name)
        if link_id in self.location_required:
            return LinkInfo("location_required", name)
        return LinkInfo("ok", name, self.locations.get(link_id))

    async def audit(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        outcome: Outcome,
        detail: Mapping[str, str],
        remote: str | None,
    ) -> None:
        self.audits.append(AuditEntry(actor, action, object_id, outcome, dict(detail)))

    async def session_state_changed(self, session_id: str, state: SessionState) -> None:
        self.states.append((session_id, state))
        self.sessions[session_id] = replace(self.sessions[session_id], state=state)

    async def participant_joined(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None:
        self.joined.append((session_id, participant_id))
        self.roles[(session_id, participant_id)] = role
        self.names[participant_id] = name
        if role == "therapist" and session_id in self.sessions:
            self.sessions[session_id] = replace(
                self.sessions[session_id], therapist_participant_id=participant_id
            )

    async def past_participant(
        self, session_id: str, participant_id: str
    ) -> PastParticipant | None:
        role = self.roles.get((session_id, participant_id))
        if role is None:
            return None
        return PastParticipant(role, (session_id, participant_id) in self.removed)

    async def participant_removed(self, session_id: str, participant_id: str, at: datetime) -> None:
        self.removed.add((session_id, participant_id))

    async def quality_reported(
        self, session_id: str, participant_id: str, role: Role, name: str, report: Quality,
        at: datetime,
    ) -> None:  # fmt: skip
        self.quality.append((participant_id, report))

    async def participant_left(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None:
        self.left.append((session_id, participant_id))

    async def consent_text(self, session_id: str) -> ConsentText:
        return ConsentText(
            text="We record audio and video of everyone in the call. Kept 30 days.",
            version=self.consent_version,
        )

    async def annotation_tags(self, session_id: str) -> Sequence[TagOption]:
        return [TagOption("independent"), TagOption("trial success", "g-grasp", "grasp")]

    async def claim_second_camera(self, session_id: str, code: str) -> str | None:
        return self.camera_codes.pop(code, None)  # single use

    async def coaching_cues(self, session_id: str) -> Sequence[str]:
        return self.cues

    async def consent_recorded(self, session_id: str, decision: ConsentDecision) -> None:
        if self.fail_consents:
            raise RuntimeError("database down")
        self.consents.append(decision)

    async def recording_changed(self, session_id: str, update: RecordingUpdate) -> None:
        self.recording_updates.append(update)
        if session_id in self.sessions:
            self.sessions[session_id] = replace(self.sessions[session_id], recorded_before=True)

    async def save_annotation(self, session_id: str, draft: AnnotationDraft) -> SavedAnnotation:
        if self.save_gate is not None:
            await self.save_gate.wait()
        if self.fail_saves:
            raise RuntimeError("database down")
        annotation_id = f"a{len(self.annotations) + 1}"
        self.annotations[annotation_id] = draft
        return SavedAnnotation(annotation_id, draft.session_ms, draft.recording_ms)

    async def call_history(self, session_id: str, chat_limit: int, tag_limit: int) -> CallHistory:
        """As the server reads it back (server/services/video/call_history.py)."""
        if self.fail_history:
            raise RuntimeError("database down")
        saved = sorted(
            (d for d in self.annotations.values() if d.client_ref is not None),
            key=lambda d: (d.session_ms, d.at),
        )
        chat = [
            ChatMessage(
                author_id=d.author_participant_id,
                name=self.names.get(d.author_participant_id, d.author_role),
                role=d.author_role,
                text=d.text or "",
                session_ms=d.session_ms,
                at=d.at,
            )
            for d in saved
            if d.kind == "chat"
        ]
        tagged = [
            TaggedInfo(
                client_ref=d.client_ref or "",
                kind="undo" if d.kind == "undo" else "tag",
                tag=d.tag,
                goal_id=d.goal_id,
                undo_ref=str(d.payload["undoes"]) if d.payload else None,
                session_ms=d.session_ms,
            )
            for d in saved
            if d.kind in ("tag", "undo")
        ]
        return CallHistory(chat[-chat_limit:], tagged[-tag_limit:])


class FakeRecorder:
    """Records every call in `log` (shared with a FakeRoom's `log` to check ordering)."""

    def __init__(self, log: list[tuple[str, Any]] | None = None) -> None:
        self.log: list[tuple[str, Any]] = log if log is not None else []
        self.fail_start = False

    def calls(self) -> list[tuple[str, Any]]:
        return [c for c in self.log if c[0].startswith("recorder.")]

    async def start(self, participant_ids: Sequence[str]) -> None:
        if self.fail_start:
            raise RuntimeError("disk full")
        self.log.append(("recorder.start", sorted(participant_ids)))

    async def pause(self) -> None:
        self.log.append(("recorder.pause", None))

    async def resume(self) -> None:
        self.log.append(("recorder.resume", None))

    async def stop(self) -> None:
        self.log.append(("recorder.stop", None))

    async def add_participant(self, participant_id: str) -> None:
        self.log.append(("recorder.add", participant_id))

    async def remove_participant(self, participant_id: str) -> None:
        self.log.append(("recorder.remove", participant_id))


class FakeSnapshots:
    def __init__(self) -> None:
        self.frames: dict[str, bytes] = {}
        self.asked: list[str] = []

    async def snapshot(self, participant_id: str) -> bytes | None:
        self.asked.append(participant_id)
        return self.frames.get(participant_id)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += timedelta(milliseconds=ms)


class FakeRoom:
    """Behaves like media.Room at the signaling boundary: offers on join, checks answers."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        self.members: dict[str, tuple[bool, OnOffer]] = {}
        # What the relay calls when it switches a participant's video off or on.
        self.audio_only: dict[str, OnAudioOnly] = {}
        self.joins: list[str] = []
        self.answers: list[tuple[str, str, int]] = []
        self.keyframes: list[str] = []
        self.send_nothing: set[str] = set()
        # Whose peer connection would survive a reconnect of their signaling.
        self.connected: set[str] = set()
        self.revision = 0
        self.closed = False
        # Shared with a FakeRecorder when a test checks the order of media and recorder calls.
        self.log: list[tuple[str, Any]] = []

    async def join(
        self,
        participant_id: str,
        *,
        publish: bool,
        on_offer: OnOffer,
        on_state: OnState | None = None,
        on_audio_only: OnAudioOnly | None = None,
        receive: bool = True,
    ) -> None:
        self.members[participant_id] = (publish, on_offer)
        if not receive:
            self.send_nothing.add(participant_id)
        if on_audio_only is not None:
            self.audio_only[participant_id] = on_audio_only
        self.joins.append(participant_id)
        self.log.append(("room.join", participant_id))
        self.revision += 1
        await on_offer(f"v=0 offer-for-{participant_id}", self.revision)

    async def answer(self, participant_id: str, sdp: str, revision: int) -> None:
        publish, _ = self.members[participant_id]
        if "bad" in sdp:
            raise FakeNegotiationError("cannot parse answer")
        if not publish and "sendrecv" in sdp:
            raise FakePublishNotAllowed("observer")
        self.answers.append((participant_id, sdp, revision))

    async def leave(self, participant_id: str) -> None:
        self.members.pop(participant_id, None)

    async def request_keyframe(self, publisher_id: str) -> None:
        self.keyframes.append(publisher_id)

    def resumable(self, participant_id: str) -> bool:
        return participant_id in self.members and participant_id in self.connected

    def participants(self) -> list[str]:
        return list(self.members)

    async def close(self) -> None:
        self.closed = True
        self.members.clear()


class FakeRelay:
    def __init__(self) -> None:
        self.rooms: dict[str, FakeRoom] = {}
        self.closed_rooms: list[str] = []

    def room(self, room_id: str) -> FakeRoom:
        return self.rooms.setdefault(room_id, FakeRoom(room_id))

    async def close_room(self, room_id: str) -> None:
        room = self.rooms.pop(room_id, None)
        if room is not None:
            await room.close()
        self.closed_rooms.append(room_id)


class FakeConnection:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self._arrived = asyncio.Event()

    async def send(self, message_json: str) -> None:
        if self.closed is not None:
            raise ConnectionError("closed")
        self.sent.append(json.loads(message_json))
        self._arrived.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self._arrived.set()

    def types(self) -> list[str]:
        return [m["type"] for m in self.sent]

    def last(self, kind: str) -> dict[str, Any]:
        return next(m for m in reversed(self.sent) if m["type"] == kind)

    async def wait_for(self, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                for m in self.sent:
                    if m["type"] == kind:
                        return m
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_closed(self) -> tuple[int, str]:
        async with asyncio.timeout(WAIT_SECONDS):
            while self.closed is None:
                self._arrived.clear()
                await self._arrived.wait()
        return self.closed


def media_errors() -> MediaErrors:
    return MediaErrors(negotiation=FakeNegotiationError, publish_not_allowed=FakePublishNotAllowed)


def make_router(
    backend: SessionBackend,
    relay: FakeRelay,
    grace: float = 30.0,
    limits: ConnectionLimits | None = None,
    *,
    taps: SessionTapsFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> LocalRouter:
    config = SessionConfig(media_errors=media_errors(), grace_seconds=grace)
    factory = SessionHostFactory(
        relay, backend, TokenSigner(SECRET), config, clock or (lambda: datetime.now(UTC)), taps
    )
    return LocalRouter(backend, factory, limits)


def taps_of(recorder: FakeRecorder, snapshots: FakeSnapshots) -> SessionTapsFactory:
    return lambda session_id: SessionTaps(recorder=recorder, snapshots=snapshots)


def join_link(
    session_id: str, role: str = "parent", name: str = "Pat Parent", hours: float = 1
) -> tuple[str, str]:
    """A signed join link and its link id."""
    claim = new_join_link_claim(
        session_id,
        "observer" if role == "observer" else "parent",
        datetime.now(UTC) + timedelta(hours=hours),
    )
    # The server keeps the name with the link (the token carries ids only).
    LINK_NAMES[claim.link_id] = name
    return TokenSigner(SECRET).issue_join_link(claim), claim.link_id


class Client:
    """One browser tab: a fake transport plumbed into a router the way the server does it."""

    def __init__(
        self, router: Any, session_id: str, identity: Any = None, client_id: str | None = None
    ) -> None:
        self.router = router
        self.session_id = session_id
        self.identity = identity
        self.client_id = client_id or f"dev-{uuid.uuid4().hex[:12]}"
        self.conn = FakeConnection()
        self.handle: Any = None

    async def open(self) -> Client:
        self.conn = FakeConnection()
        self.handle = await self.router.connect(
            self.session_id, self.conn, self.identity, "198.51.100.7"
        )
        return self

    async def send(self, **message: Any) -> None:
        await self.handle.receive(json.dumps(message))

    async def join(
        self,
        token: str | None = None,
        rejoin: str | None = None,
        source: str | None = None,
        resume_media: bool = False,
    ) -> dict[str, Any]:
        if self.handle is None:
            await self.open()
        message: dict[str, Any] = {"type": "join", "v": 1, "client_id": self.client_id}
        if resume_media:
            message["resume_media"] = True
        if token is not None:
            message["token"] = token
        if rejoin is not None:
            message["rejoin"] = rejoin
        if source is not None:
            message["source"] = source
        await self.send(**message)
        return self.conn.sent[-1] if self.conn.sent else {}

    async def drop(self) -> None:
        """The network goes away (no leave message)."""
        self.conn.closed = (1006, "abnormal")
        await self.handle.disconnected()

    @property
    def participant_id(self) -> str:
        return str(self.conn.last("welcome")["participant_id"])


async def admit(therapist: Client, role: str = "parent", name: str = "Pat Parent") -> Client:
    """A link holder knocks and the therapist admits them; returns the guest's client."""
    token, _ = join_link(therapist.session_id, role, name)
    guest = Client(therapist.router, therapist.session_id)
    await guest.join(token=token)
    await therapist.send(type="admit", participant_id=guest.participant_id)
    return guest


def of_type(conn: FakeConnection, kind: str) -> list[dict[str, Any]]:
    return [m for m in conn.sent if m["type"] == kind]


# What `chat_tags_and_cue` says, in order.
SAID = ("welcome! https://example.org/plan", "<b>can you hear us?</b>", "notes later")


async def chat_tags_and_cue(therapist: Client, parent: Client, observer: Client) -> None:
    """Everyone in the room chats; the therapist tags, undoes a tag, cues and writes a note."""
    await therapist.send(type="chat", client_ref="c1", text=SAID[0])
    await therapist.send(type="tag", client_ref="t1", tag="trial success", goal_id="g-grasp")
    await parent.send(type="chat", client_ref="c2", text=SAID[1])
    await therapist.send(type="cue", client_ref="q1", cue="wait 5 seconds")
    await therapist.send(type="tag", client_ref="t2", tag="trial fail", goal_id="g-grasp")
    await therapist.send(type="undo", client_ref="t3", undo_ref="t2")
    await observer.send(type="chat", client_ref="c3", text=SAID[2])
    await therapist.send(type="note", client_ref="n1", text="a note is not replayed")
    for client in (therapist, parent, observer):
        assert "annotation_failed" not in client.conn.types()


def replayed(client: Client) -> dict[str, Any]:
    """What a page entering the room was sent of the call so far: chat, tags, cues."""
    history = of_type(client.conn, "annotation_history")
    return {
        "chat": of_type(client.conn, "chat"),
        "tags": history[-1]["items"] if history else None,
        "cues": of_type(client.conn, "cue"),
    }
