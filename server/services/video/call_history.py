"""What a session host replays to whoever enters the room, read back from the record: the
latest chat messages and tags (with undos). A host that did not see them (after a restart, or
on the node that took the session over) sends the same replay as the host that did.

Reading them is a read of the session's clinical record: audited (actor: the signaling).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Annotation, SessionAttendance
from server.services.audit import Actor, add_audit
from signaling.ports import CallHistory
from signaling.protocol import ChatMessage, Role, TaggedInfo

from .common import parse_id

_ROLES: dict[str, Role] = {"therapist": "therapist", "parent": "parent", "observer": "observer"}


async def call_history(
    session: AsyncSession, session_id: str, chat_limit: int, tag_limit: int, actor: Actor
) -> CallHistory:
    sid = parse_id(session_id)
    chat = await _latest(session, sid, ("chat",), chat_limit)
    tagged = await _latest(session, sid, ("tag", "undo"), tag_limit)
    if chat or tagged:
        add_audit(
            session,
            actor,
            "annotation.read",
            object_type="video_session",
            object_id=sid,
            detail={"for": "call_history", "chat": len(chat), "tags": len(tagged)},
        )
    names = await _names(session, sid, {row.author_participant_id for row in chat})
    return CallHistory(
        chat=[
            ChatMessage(
                author_id=row.author_participant_id,
                name=names.get(row.author_participant_id) or _role(row).capitalize(),
                role=_role(row),
                text=row.text or "",
                session_ms=row.session_ms,
                at=row.created_at,
            )
            for row in chat
        ],
        tagged=[_tagged(row) for row in tagged],
    )


async def _latest(
    session: AsyncSession, sid: uuid.UUID, kinds: Sequence[str], limit: int
) -> list[Annotation]:
    """The last `limit` of these kinds that a host would have kept (those with the author's
    client_ref), oldest first, in the order the session clock gave them."""
    if limit <= 0:
        return []
    rows = await session.scalars(
        select(Annotation)
        .where(
            Annotation.session_id == sid,
            Annotation.kind.in_(kinds),
            Annotation.client_ref.is_not(None),
        )
        .order_by(
            Annotation.session_ms.desc(), Annotation.created_at.desc(), Annotation.saved_at.desc()
        )
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def _names(
    session: AsyncSession, sid: uuid.UUID, participant_ids: set[str]
) -> dict[str, str]:
    """The name each author was shown under in the room (their latest stretch of attendance)."""
    if not participant_ids:
        return {}
    rows = await session.execute(
        select(SessionAttendance.participant_id, SessionAttendance.display_name)
        .where(
            SessionAttendance.session_id == sid,
            SessionAttendance.participant_id.in_(participant_ids),
        )
        .order_by(SessionAttendance.joined_at)
    )
    return {pid: name for pid, name in rows}


def _role(row: Annotation) -> Role:
    return _ROLES.get(row.author_role, "observer")  # the roles signaling stored: never another


def _tagged(row: Annotation) -> TaggedInfo:
    assert row.client_ref is not None  # selected so
    undoes = row.payload.get("undoes") if row.payload else None
    return TaggedInfo(
        client_ref=row.client_ref,
        kind="undo" if row.kind == "undo" else "tag",
        tag=row.tag,
        goal_id=row.goal_id,
        undo_ref=str(undoes) if undoes else None,
        session_ms=row.session_ms,
    )
