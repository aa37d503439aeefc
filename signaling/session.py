"""One live video session: lobby, admission, roles, media room membership, reconnects, end."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from signaling.admission import LocationRequired, decide_join
from signaling.annotations import Annotations
from signaling.consent import RecordingControl
from signaling.host_context import HostContext, ms_between
from signaling.ice import IceConfig, ice_servers
from signaling.media_adapter import MEDIA_ERRORS
from signaling.participant import ClientLink, Participant
from signaling.ports import (
    Identity,
    LinkInfo,
    MediaErrors,
    MediaRoomPort,
    OnAudioOnly,
    OnOffer,
    Outcome,
    SessionBackend,
    SessionRecord,
    SessionTaps,
    TherapistIdentity,
)
from signaling.protocol import (
    PROTOCOL_VERSION,
    Admit,
    Admitted,
    AnnotationMessage,
    Answer,
    ClientMessage,
    CloseCode,
    Consent,
    Decline,
    Declined,
    End,
    Ended,
    Error,
    ErrorCode,
    Join,
    Keyframe,
    Leave,
    MediaState,
    ObserverAnnotations,
    Offer,
    Quality,
    Reception,
    Record,
    Remove,
    Removed,
    SessionState,
    Welcome,
)
from signaling.quality import LinkHints
from signaling.roster import ACTIVE, IN_ROOM, Roster
from signaling.tokens import LinkGone, LinkInvalid, LinkRole, RejoinClaim, TokenSigner
from signaling.untapped import untapped

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SessionConfig:
    media_errors: MediaErrors = MEDIA_ERRORS
    grace_seconds: float = 30.0
    ice: IceConfig = field(default_factory=IceConfig)
    # Everyone in the lobby or the room, the therapist included. Each costs a peer connection
    # and its buffers on the relay (40 signaling-only participants took 260 MB).
    max_participants: int = 8


class SessionHost:
    def __init__(
        self,
        record: SessionRecord,
        room: MediaRoomPort,
        release_room: Callable[[], Awaitable[None]],
        backend: SessionBackend,
        signer: TokenSigner,
        config: SessionConfig,
        clock: Callable[[], datetime] = _utcnow,
        taps: SessionTaps | None = None,
    ) -> None:
        self.session_id = record.session_id
        self._owner = record.therapist_user_id
        self.state: SessionState = record.state
        self.live_at = record.live_at
        self._therapist_pid = record.therapist_participant_id
        self._room = room
        self._release_room = release_room
        self._backend = backend
        self._signer = signer
        self._config = config
        self._now = clock
        # Serializes every state change: awaits (media, database) must not interleave two of them.
        self._lock = asyncio.Lock()
        self.roster = Roster()
        self.hints = LinkHints(self.roster)
        self._close_listeners: list[Callable[[SessionHost], Awaitable[None]]] = []
        self.closed = False
        taps = taps or untapped(self.session_id)
        ctx = HostContext(
            self.session_id, self.roster, backend, clock, self._audit, self._session_ms
        )
        self.recording = RecordingControl(ctx, taps.recorder, record.recorded_before)
        self.annotations = Annotations(ctx, self.recording, taps.snapshots)

    def add_close_listener(self, listener: Callable[[SessionHost], Awaitable[None]]) -> None:
        self._close_listeners.append(listener)

    # --- entry points used by the router ----------------------------------------------------

    async def join(self, link: ClientLink, identity: Identity, msg: Join) -> Participant | None:
        async with self._lock:
            if self.closed or self.state == "ended":
                return await _refuse(link, "session_ended", "session has ended", CloseCode.GONE)
            if msg.v != PROTOCOL_VERSION:
                text = f"this server speaks v{PROTOCOL_VERSION}"
                return await _refuse(
                    link, "unsupported_version", text, CloseCode.UNSUPPORTED_VERSION
                )
            if msg.source is not None:
                return await self._join_source(link, identity, msg)
            if identity is not None:
                return await self._join_therapist(link, identity, msg.resume_media)
            return await self._join_with_link(link, msg)

    async def handle(self, who: Participant, link: ClientLink, msg: ClientMessage) -> None:
        if isinstance(msg, Answer):
            await self._answer(who, link, msg)
            return
        if isinstance(msg, Quality):
            await self._quality(who, link, msg)
            return
        save = None
        async with self._lock:
            if who.link is not link or link.closed or self.closed:
                return  # a stale connection, replaced by a reconnect
            if who.source_of is not None and not isinstance(msg, Leave | MediaState | Keyframe):
                # A source publishes and listens to nothing; everything else is its owner's.
                await who.send(Error(code="forbidden", message="a source only publishes"))
            elif isinstance(msg, AnnotationMessage):
                save = await self.annotations.prepare(who, msg)
            else:
                await self._dispatch(who, msg)
        if save is not None:
            await save()  # the database write and the ack, outside the lock

    async def disconnected(self, who: Participant, link: ClientLink) -> None:
        async with self._lock:
            # A closed host (shut down: the session moved or the process stops) starts no grace:
            # the participant is back elsewhere, and its expiry would end their new stretch.
            if self.closed or who.link is not link:
                return
            who.link = None
            if who.phase == "lobby":
                await self._drop(who, "left")
            elif who.phase == "present" and who.source_of is not None:
                await self._drop(who, "left")  # no grace: the owner shares it again
            elif who.phase == "present":
                who.phase = "reconnecting"
                who.grace = asyncio.create_task(self._grace(who))
                await self.roster.broadcast_participants(self.state)
            await self._close_if_idle()

    async def revoke_link(self, link_id: str) -> None:
        async with self._lock:
            for who in self.roster.holders(link_id):
                await self._kick(who, "link_revoked")
                await self._audit(
                    "system", "session.remove", "success", {"target": who.participant_id}, None
                )
            await self._close_if_idle()

    async def end(self, actor: str = "system", remote: str | None = None) -> None:
        async with self._lock:
            await self._end(actor, remote)

    async def shutdown(
        self, code: int = CloseCode.INTERNAL_ERROR, reason: str = "server shutting down"
    ) -> None:
        """Process shutdown, or the session moved to another node: close connections without
        ending the session (clients reconnect with their rejoin credentials)."""
        async with self._lock:
            for who in self.roster:
                who.cancel_grace()
                if who.link:
                    await who.link.close(code, reason)
            await self._close()

    # --- joining ------------------------------------------------------------------------------

    async def _join_therapist(
        self, link: ClientLink, identity: TherapistIdentity, resume: bool
    ) -> Participant | None:
        if identity.user_id != self._owner:
            await self._audit(f"user:{identity.user_id}", "session.join", "denied", {}, link.remote)
            return await _refuse(link, "forbidden", "not your session", CloseCode.FORBIDDEN)
        who = self.roster.therapist()
        if who is None:
            pid = self._therapist_pid or f"t_{secrets.token_urlsafe(9)}"
            who = Participant(pid, "therapist", identity.display_name, self._now())
            who.user_id = identity.user_id
            self.roster.add(who)
        await self._attach(who, link)
        await self._audit(who.actor, "session.join", "success", {}, link.remote)
        await self._enter(who, resume=resume)
        await who.send(self.roster.lobby_update())
        return who

    async def _join_with_link(self, link: ClientLink, msg: Join) -> Participant | None:
        now = self._now()
        try:
            decision = await decide_join(
                msg,
                session_id=self.session_id,
                signer=self._signer,
                backend=self._backend,
                now=now,
                roster_verdict=self._roster_verdict,
            )
        except (LinkInvalid, LinkGone, LocationRequired) as exc:
            await self._audit("anonymous", "session.join", "denied", {"why": str(exc)}, link.remote)
            if isinstance(exc, LocationRequired):
                return await _refuse(link, "location_required", str(exc), CloseCode.FORBIDDEN)
            if isinstance(exc, LinkGone):
                return await _refuse(link, "link_gone", str(exc), CloseCode.GONE)
            return await _refuse(link, "link_invalid", str(exc), CloseCode.FORBIDDEN)
        if decision.rejoin is not None:
            assert decision.link is not None
            who = self.roster.get(decision.rejoin.participant_id)
            if who is None:
                # Admitted before this host existed (the records said so): same id, no lobby.
                who = self._returning(decision.rejoin, decision.link)
            await self._attach(who, link)
            await self._audit(who.actor, "session.rejoin", "success", {}, link.remote)
            await self._enter(who, resume=msg.resume_media)
            return who
        claim, info = decision.knock, decision.link
        assert claim is not None
        assert info is not None
        who = self.roster.waiting(claim.link_id, msg.client_id)
        if who is None and self.roster.active_count() >= self._config.max_participants:
            detail = {"link_id": claim.link_id, "why": "session_full"}
            await self._audit("anonymous", "session.knock", "denied", detail, link.remote)
            return await _refuse(
                link, "session_full", "this session is full", CloseCode.SESSION_FULL
            )
        if who is None:
            pid = f"p_{secrets.token_urlsafe(9)}"
            who = Participant(pid, claim.role, info.display_name, now)
            who.link_id, who.client_id = claim.link_id, msg.client_id
            who.link_expires_at = claim.expires_at
            self.roster.add(who)
        who.location = info.location
        await self._attach(who, link)
        detail = {"link_id": claim.link_id}
        if decision.rejoin_refused:
            detail["rejoin_refused"] = decision.rejoin_refused
        await self._audit(who.actor, "session.knock", "success", detail, link.remote)
        await who.send(self._welcome(who))
        await self.roster.send_to_therapist(self.roster.lobby_update())
        return who

    async def _join_source(
        self, link: ClientLink, identity: Identity, msg: Join
    ) -> Participant | None:
        """A publish-only source of someone in the room: the therapist's shared screen, or a
        second camera. No lobby and no consent of its own (its owner's covers it); it receives
        nothing and leaves with its owner."""
        assert msg.source is not None
        owner = await self._source_owner(link, identity, msg)
        if owner is None:
            return None
        pid = f"{owner.participant_id}-{msg.source}"
        who = self.roster.get(pid)
        if who is None or who.phase not in IN_ROOM:
            label = "screen" if msg.source == "screen" else "second camera"
            who = Participant(pid, owner.role, f"{owner.name}'s {label}", self._now())
            who.source_of, who.user_id = owner.participant_id, owner.user_id
            who.link_id, who.client_id = owner.link_id, msg.client_id
            self.roster.add(who)
        await self._attach(who, link)
        who.phase = "present"
        await who.send(self._welcome(who))
        try:
            await self._room.join(
                pid, publish=True, receive=False, on_offer=self._offer_sender(who)
            )
            who.in_media = True
        except Exception:
            log.exception("media join failed for %s", pid)
            await who.send(Error(code="internal", message="media join failed"))
        await self._audit(owner.actor, f"session.{msg.source}", "success", {}, link.remote)
        await self.roster.broadcast_participants(self.state)
        await self.recording.sync()  # recorded to a file of its own while recording runs
        return who

    async def _source_owner(
        self, link: ClientLink, identity: Identity, msg: Join
    ) -> Participant | None:
        if msg.source == "screen":
            owner = self.roster.therapist()
            if identity is None or identity.user_id != self._owner:
                return await _refuse(link, "forbidden", "not your session", CloseCode.FORBIDDEN)
        else:
            owner = await self._camera_owner(link, msg)
        if owner is None or owner.phase != "present":
            return await _refuse(
                link, "unknown_participant", "join the session first", CloseCode.FORBIDDEN
            )
        return owner

    async def _camera_owner(self, link: ClientLink, msg: Join) -> Participant | None:
        # The second-camera link is single-use: claiming it spends it, whatever follows.
        owner_id = await self._backend.claim_second_camera(self.session_id, msg.token or "")
        if owner_id is None:
            await self._audit("anonymous", "session.camera", "denied", {}, link.remote)
            return await _refuse(link, "link_gone", "link used or expired", CloseCode.GONE)
        owner = self.roster.get(owner_id)
        return owner if owner is not None and owner.source_of is None else None

    def _roster_verdict(self, claim: RejoinClaim) -> bool | None:
        """May this credential's holder come back? None: this host never saw them."""
        who = self.roster.get(claim.participant_id)
        if who is None:
            return None
        return (
            who.phase not in ("removed", "lobby")
            and who.link_id == claim.link_id
            and who.role == claim.role
        )

    def _returning(self, claim: RejoinClaim, info: LinkInfo) -> Participant:
        who = Participant(claim.participant_id, claim.role, info.display_name, self._now())
        who.link_id, who.client_id = claim.link_id, claim.client_id
        who.link_expires_at = claim.expires_at
        who.location = info.location
        self.roster.add(who)
        return who

    async def _attach(self, who: Participant, link: ClientLink) -> None:
        who.cancel_grace()
        if who.link is not None and who.link is not link:
            await who.link.close(CloseCode.REPLACED, "replaced by a newer connection")
        who.link = link

    async def _enter(self, who: Participant, *, welcome: bool = True, resume: bool = False) -> None:
        """Into the media room: first admission, therapist arrival, or a reconnect (which keeps
        the peer connection when the client asks and the relay can: a link that came back)."""
        was_in_room = who.phase in IN_ROOM
        resumed = (
            resume and was_in_room and who.in_media and self._room.resumable(who.participant_id)
        )
        who.phase = "present"
        if welcome:
            await who.send(self._welcome(who, resumed))
        if not was_in_room:
            who.since = self._now()
        # Before any media flows: a newcomer who has not consented pauses the recording.
        await self.recording.entering()
        # The relay treats a join with a known id as a takeover: a fresh peer connection.
        try:
            if not resumed:
                await self._room.join(
                    who.participant_id,
                    publish=who.role != "observer",
                    on_offer=self._offer_sender(who),
                    on_audio_only=self._reception_sender(who),
                )
            who.in_media = True
        except Exception:
            log.exception("media join failed for %s", who.participant_id)
            await who.send(Error(code="internal", message="media join failed"))
        if not was_in_room:
            # After the offer is out: the connection is set up while the row is written.
            await self._backend_call(
                self._backend.participant_joined(
                    self.session_id, who.participant_id, who.role, who.name, who.since
                )
            )
        if self.state == "open" and self.roster.is_live():
            self.state, self.live_at = "live", self.live_at or self._now()
            await self._backend_call(self._backend.session_state_changed(self.session_id, "live"))
        await self.roster.broadcast_participants(self.state)
        await self.annotations.entered(who)
        await self.recording.entered(who)

    def _offer_sender(self, who: Participant) -> OnOffer:
        # Called by the relay outside our lock (renegotiations): it only sends, never mutates.
        async def on_offer(sdp: str, revision: int) -> None:
            await who.send(Offer(sdp=sdp, revision=revision))

        return on_offer

    def _reception_sender(self, who: Participant) -> OnAudioOnly:
        # Called by the relay outside our lock, like on_offer: it only sends.
        async def on_audio_only(audio_only: bool) -> None:
            await who.send(Reception(audio_only=audio_only))

        return on_audio_only

    # --- messages from joined participants ----------------------------------------------------

    async def _dispatch(self, who: Participant, msg: ClientMessage) -> None:
        if isinstance(msg, Join):
            await who.send(Error(code="already_joined", message="already joined"))
        elif isinstance(msg, Admit | Decline | Remove | End):
            await self._therapist_action(who, msg)
        elif isinstance(msg, Record | Consent | ObserverAnnotations) and who.phase != "present":
            await who.send(Error(code="not_admitted", message="wait for the therapist"))
        elif isinstance(msg, Record):
            await self.recording.command(who, msg)
        elif isinstance(msg, Consent):
            await self.recording.consent(who, msg)
        elif isinstance(msg, ObserverAnnotations):
            await self.annotations.set_observers(who, msg)
        elif isinstance(msg, Leave):
            link = who.link
            await self._drop(who, "left")
            if link:
                await link.close(CloseCode.NORMAL, "left")
            await self._close_if_idle()
        elif who.phase != "present":
            await who.send(Error(code="not_admitted", message="wait for the therapist"))
        elif isinstance(msg, MediaState):
            if who.role == "observer" and (msg.audio or msg.video):
                await self._refuse_publish(who, "media_state")
                return
            who.audio, who.video = msg.audio, msg.video
            await self.roster.broadcast_participants(self.state)
        elif isinstance(msg, Keyframe):
            target = self.roster.get(msg.publisher_id)
            if target is None or target.phase != "present" or target.role == "observer":
                await who.send(Error(code="unknown_participant", message="no such publisher"))
                return
            try:
                await self._room.request_keyframe(target.participant_id)
            except self._config.media_errors.negotiation as exc:
                await who.send(Error(code="unknown_participant", message=str(exc)[:200]))
        # Ping is answered by the connection handle, without taking this lock.

    async def _answer(self, who: Participant, link: ClientLink, msg: Answer) -> None:
        """Without the session lock: the media room orders negotiation itself (one offer
        outstanding per connection, answers matched by revision), and an answer waiting behind
        another step's database writes would hold up the media of every join."""
        if who.link is not link or link.closed or self.closed:
            return  # a stale connection, replaced by a reconnect
        if who.phase != "present":
            await who.send(Error(code="not_admitted", message="wait for the therapist"))
            return
        errors = self._config.media_errors
        try:
            await self._room.answer(who.participant_id, msg.sdp, msg.revision)
        except errors.publish_not_allowed:
            await self._refuse_publish(who, "answer")
        except errors.negotiation as exc:
            # Replaced or removed meanwhile: the failure is the old connection's, not news.
            if who.link is link:
                await who.send(Error(code="negotiation_failed", message=str(exc)[:200]))

    async def _quality(self, who: Participant, link: ClientLink, msg: Quality) -> None:
        """Without the session lock, like answers: a database write every few seconds per
        participant must not hold up admissions and the like."""
        if who.link is not link or link.closed or self.closed:
            return
        if who.phase != "present":
            await who.send(Error(code="not_admitted", message="wait for the therapist"))
            return
        await self._backend_call(
            self._backend.quality_reported(
                self.session_id, who.participant_id, who.role, who.name, msg, self._now()
            )
        )
        await self.hints.reported(who, msg)

    async def _refuse_publish(self, who: Participant, via: str) -> None:
        await self._audit(who.actor, "media.publish", "denied", {"via": via}, who.remote)
        await who.send(Error(code="publish_not_allowed", message="observers cannot publish"))

    async def _therapist_action(
        self, who: Participant, msg: Admit | Decline | Remove | End
    ) -> None:
        action = f"session.{msg.type}"
        target_id = self.session_id if isinstance(msg, End) else msg.participant_id
        if who.role != "therapist":
            await self._audit(who.actor, action, "denied", {"target": target_id}, who.remote)
            await who.send(Error(code="forbidden", message="only the therapist can do that"))
            return
        if isinstance(msg, End):
            await self._end(who.actor, who.remote)
            return
        target = self.roster.get(msg.participant_id)
        needs_lobby = not isinstance(msg, Remove)
        if (
            target is None
            or target.role == "therapist"
            or target.phase not in ACTIVE
            or (needs_lobby and target.phase != "lobby")
        ):
            await who.send(Error(code="unknown_participant", message="no such participant"))
            return
        await self._audit(who.actor, action, "success", {"target": target_id}, who.remote)
        if isinstance(msg, Admit):
            await self._admit(target)
        elif isinstance(msg, Decline):
            link = target.link
            await target.send(Declined())
            await self._drop(target, "left")
            if link:
                await link.close(CloseCode.DECLINED, "declined")
        else:
            await self._kick(target, "removed")
        await self._close_if_idle()

    async def _admit(self, who: Participant) -> None:
        assert who.link_id is not None
        assert who.client_id is not None
        assert who.link_expires_at is not None
        role: LinkRole = "observer" if who.role == "observer" else "parent"
        claim = RejoinClaim(
            self.session_id,
            who.participant_id,
            who.link_id,
            who.client_id,
            role,
            who.link_expires_at,
        )
        await who.send(Admitted(rejoin=self._signer.issue_rejoin(claim)))
        await self._enter(who, welcome=False)
        await self.roster.send_to_therapist(self.roster.lobby_update())

    # --- leaving --------------------------------------------------------------------------------

    async def _grace(self, who: Participant) -> None:
        await asyncio.sleep(self._config.grace_seconds)
        async with self._lock:
            if who.phase == "reconnecting":
                who.grace = None  # this very task: _drop must not cancel it
                await self._drop(who, "left")
                await self._close_if_idle()

    async def _kick(self, who: Participant, reason: str) -> None:
        if reason == "removed":
            # Stored before anyone hears of it: a removal must outlive this host (a revoked
            # link is stored already), also when the process dies the moment after.
            await self._backend_call(
                self._backend.participant_removed(self.session_id, who.participant_id, self._now())
            )
        link = who.link
        await who.send(Removed(reason="link_revoked" if reason == "link_revoked" else "removed"))
        await self._drop(who, "removed")
        if link:
            await link.close(CloseCode.REMOVED, reason)

    async def _drop(self, who: Participant, phase: str) -> None:
        """Out of the lobby or the room; "removed" also voids the rejoin credential."""
        was = who.phase
        who.cancel_grace()
        self.hints.forget(who)
        who.link = None
        who.phase = "removed" if phase == "removed" else "left"
        if was == "lobby":
            self.roster.discard(who)
            await self.roster.send_to_therapist(self.roster.lobby_update())
            return
        if was in IN_ROOM:
            if who.in_media:
                who.in_media = False
                try:
                    await self._room.leave(who.participant_id)
                except Exception:
                    log.exception("media leave failed")
            await self._left(who)
            await self._drop_sources(who)
            await self.roster.broadcast_participants(self.state)
            await self.recording.left(who)

    async def _drop_sources(self, owner: Participant) -> None:
        for source in [p for p in self.roster if p.source_of == owner.participant_id]:
            if source.phase in IN_ROOM:
                link = source.link
                await self._drop(source, "left")
                if link:
                    await link.close(CloseCode.NORMAL, "its owner left")

    async def _left(self, who: Participant) -> None:
        if who.source_of is not None:
            return  # attendance is people's: a screen or a camera is not present in a visit
        await self._backend_call(
            self._backend.participant_left(
                self.session_id, who.participant_id, who.role, who.name, self._now()
            )
        )

    async def _end(self, actor: str, remote: str | None) -> None:
        if self.state == "ended":
            return
        await self._audit(actor, "session.end", "success", {}, remote)
        await self.recording.close()
        self.state = "ended"
        for who in self.roster:
            link, was = who.link, who.phase
            who.cancel_grace()
            who.link, who.phase = None, "left"
            if link:
                await link.send(Ended())
                await link.close(CloseCode.ENDED, "session ended")
            if was in IN_ROOM:
                await self._left(who)
        await self._backend_call(self._backend.session_state_changed(self.session_id, "ended"))
        await self._close()

    async def _close_if_idle(self) -> None:
        if self.roster.is_empty():
            await self._close()

    async def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self.recording.close()
        try:
            await self._release_room()
        except Exception:
            log.exception("closing media room failed")
        for listener in self._close_listeners:
            await listener(self)

    # --- helpers --------------------------------------------------------------------------------

    def _session_ms(self) -> int:
        return 0 if self.live_at is None else ms_between(self.live_at, self._now())

    def _welcome(self, who: Participant, media_resumed: bool = False) -> Welcome:
        return Welcome(
            media_resumed=media_resumed,
            participant_id=who.participant_id,
            role=who.role,
            state=self.state,
            lobby=who.phase == "lobby",
            ice_servers=ice_servers(self._config.ice, who.participant_id, self._now()),
        )

    async def _audit(
        self,
        actor: str,
        action: str,
        outcome: Outcome,
        detail: Mapping[str, str],
        remote: str | None,
    ) -> None:
        await self._backend_call(
            self._backend.audit(actor, action, "session", self.session_id, outcome, detail, remote)
        )

    async def _backend_call(self, call: Awaitable[None]) -> None:
        # A database hiccup must not tear down a running call; it is logged for operators.
        try:
            await call
        except Exception:
            log.exception("backend call failed in session %s", self.session_id)


async def _refuse(link: ClientLink, code: ErrorCode, text: str, close: int) -> Participant | None:
    """Refuse a join; returns "no participant" so that join paths can `return` it."""
    await link.send(Error(code=code, message=text))
    await link.close(close, code)
    return None
