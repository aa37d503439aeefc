"""The signaling layer's SessionBackend, over Tandem's database and audit log."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import transaction, utcnow
from server.models import VideoSessionState
from server.observability import Metrics
from server.services.audit import Actor, AuditLog, record_audit
from server.services.video.annotations import find_resent, save_annotation
from server.services.video.call_history import call_history
from server.services.video.common import parse_id
from server.services.video.goal_tags import cues_for_session, tags_for_session
from server.services.video.location import link_info
from server.services.video.quality import record_quality
from server.services.video.recordings import (
    apply_recording_update,
    consent_text,
    has_recordings,
    record_consent,
)
from server.services.video.second_camera import claim_camera_link
from server.services.video.sessions import (
    find_session,
    past_participant,
    record_presence,
    record_removal,
    set_state,
    therapist_participant_id,
)
from signaling.ports import (
    AnnotationDraft,
    CallHistory,
    ConsentDecision,
    ConsentText,
    LinkInfo,
    Outcome,
    PastParticipant,
    RecordingUpdate,
    SavedAnnotation,
    SessionRecord,
    TagOption,
)
from signaling.protocol import Quality, Role, SessionState

log = logging.getLogger(__name__)

_OUTCOMES = {"success": "ok", "denied": "refused", "failure": "failed"}


def _actor(actor: str, remote: str | None) -> Actor:
    # Signaling names actors "user:<id>", "link:<link id>", "participant:<id>" or "system".
    kind, _, ident = actor.partition(":")
    if kind == "user":
        return Actor("user", ident or None, None, remote)
    if kind in ("link", "participant"):
        return Actor("link", ident or None, actor, remote)
    if kind == "system":
        return Actor("system", None, "signaling", remote)
    return Actor("anonymous", None, actor[:200] or None, remote)


class DatabaseSessionBackend:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        node_id: str | None = None,
        audit_log: AuditLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        # This process, on every attendance stretch it opens: if it dies, they end at its last
        # heartbeat (server/services/video/nodes.py).
        self._node_id = node_id
        # Signaling refusals (forbidden messages, bad links) go through the app's aggregating log.
        self._audit_log = audit_log or AuditLog(db)

    async def load_session(self, session_id: str) -> SessionRecord | None:
        async with transaction(self._db) as session:
            video = await find_session(session, session_id)
            if video is None:
                return None
            return SessionRecord(
                str(video.id),
                str(video.therapist_id),
                video.state.value,
                video.live_at,
                therapist_participant_id=await therapist_participant_id(session, video),
                recorded_before=await has_recordings(session, video.id),
            )

    async def link_info(self, session_id: str, link_id: str) -> LinkInfo | None:
        async with transaction(self._db) as session:
            return await link_info(session, session_id, link_id)

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
        await record_audit(
            self._audit_log,
            _actor(actor, remote),
            action if "." in action else f"signaling.{action}",
            object_type=object_type,
            object_id=object_id,
            outcome=_OUTCOMES.get(outcome, outcome),
            detail=dict(detail),
        )

    async def session_state_changed(self, session_id: str, state: SessionState) -> None:
        async with transaction(self._db) as session:
            await set_state(session, session_id, VideoSessionState(state))

    async def participant_joined(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None:
        async with transaction(self._db) as session:
            await record_presence(
                session,
                session_id,
                participant_id,
                role=role,
                name=name,
                joined=True,
                at=at,
                node_id=self._node_id,
            )

    async def participant_left(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None:
        async with transaction(self._db) as session:
            await record_presence(
                session, session_id, participant_id, role=role, name=name, joined=False, at=at
            )

    async def past_participant(
        self, session_id: str, participant_id: str
    ) -> PastParticipant | None:
        async with transaction(self._db) as session:
            return await past_participant(session, session_id, participant_id)

    async def participant_removed(self, session_id: str, participant_id: str, at: datetime) -> None:
        async with transaction(self._db) as session:
            await record_removal(session, session_id, participant_id, at)

    async def quality_reported(
        self, session_id: str, participant_id: str, role: Role, name: str, report: Quality,
        at: datetime,
    ) -> None:  # fmt: skip
        async with transaction(self._db) as session:
            await record_quality(session, session_id, participant_id, role, name, report, at)
        if self._metrics is not None:
            m = self._metrics
            route = (report.candidate or "none", report.protocol or "none")
            m.call_reports.labels(role, *route).inc()
            m.call_seconds.labels(role).inc(report.seconds)
            m.call_freezes.labels(role).inc(report.freezes)
            m.call_frozen_seconds.labels(role).inc(report.frozen_ms / 1000)

    # --- session hooks: consent, recording, annotations ----------------------------------------
    # Each call is one transaction with its audit row: when it returns, both are committed.

    async def consent_text(self, session_id: str) -> ConsentText:
        return consent_text()

    async def annotation_tags(self, session_id: str) -> Sequence[TagOption]:
        async with transaction(self._db) as session:
            return await tags_for_session(session, session_id)

    async def claim_second_camera(self, session_id: str, code: str) -> str | None:
        async with transaction(self._db) as session:
            return await claim_camera_link(
                session, session_id, code, _actor("system", None), utcnow()
            )

    async def coaching_cues(self, session_id: str) -> Sequence[str]:
        async with transaction(self._db) as session:
            return await cues_for_session(session, session_id)

    async def consent_recorded(self, session_id: str, decision: ConsentDecision) -> None:
        actor = _participant_actor(decision.participant_id, decision.user_id, decision.link_id)
        async with transaction(self._db) as session:
            await record_consent(session, session_id, decision, actor)

    async def recording_changed(self, session_id: str, update: RecordingUpdate) -> None:
        async with transaction(self._db) as session:
            await apply_recording_update(session, session_id, update, _actor("system", None))

    async def save_annotation(self, session_id: str, draft: AnnotationDraft) -> SavedAnnotation:
        actor = _participant_actor(
            draft.author_participant_id, draft.author_user_id, draft.author_link_id
        )
        try:
            async with transaction(self._db) as session:
                row = await save_annotation(session, session_id, draft, actor)
                saved = SavedAnnotation(str(row.id), row.session_ms, row.recording_ms)
        except IntegrityError:
            # The same resend raced itself; the first one committed: answer with it.
            async with transaction(self._db) as session:
                found = await find_resent(session, parse_id(session_id), draft)
                if found is None:
                    raise
                saved = SavedAnnotation(str(found.id), found.session_ms, found.recording_ms)
        # Only here, after the commit, does the id go back (and the client get its ack).
        return saved

    async def call_history(self, session_id: str, chat_limit: int, tag_limit: int) -> CallHistory:
        async with transaction(self._db) as session:
            return await call_history(
                session, session_id, chat_limit, tag_limit, _actor("system", None)
            )


def _participant_actor(participant_id: str, user_id: str | None, link_id: str | None) -> Actor:
    if user_id is not None:
        return Actor("user", user_id, f"participant:{participant_id}", None)
    return Actor("link", link_id, f"participant:{participant_id}", None)
