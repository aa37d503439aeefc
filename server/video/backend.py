"""The signaling layer's SessionBackend, over Tandem's database and audit log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import transaction
from server.models import JoinLink, VideoSession, VideoSessionState
from server.services.audit import Actor, record_audit
from server.services.video_sessions import SessionNotFound, parse_id, record_presence, set_state
from signaling.ports import LinkStatus, Outcome, SessionRecord
from signaling.protocol import Role, SessionState

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
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db

    async def load_session(self, session_id: str) -> SessionRecord | None:
        try:
            sid = parse_id(session_id)
        except SessionNotFound:
            return None
        async with transaction(self._db) as session:
            video = await session.get(VideoSession, sid)
            if video is None:
                return None
            return SessionRecord(str(video.id), str(video.therapist_id), video.state.value)

    async def link_status(self, session_id: str, link_id: str) -> LinkStatus:
        async with transaction(self._db) as session:
            link = await session.get(JoinLink, link_id)
            if link is None or str(link.session_id) != session_id or link.revoked_at is not None:
                return "revoked"
            return "ok"

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
            self._db,
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
                session, session_id, participant_id, role=role, name=name, joined=True, at=at
            )

    async def participant_left(
        self, session_id: str, participant_id: str, role: Role, name: str, at: datetime
    ) -> None:
        async with transaction(self._db) as session:
            await record_presence(
                session, session_id, participant_id, role=role, name=name, joined=False, at=at
            )
