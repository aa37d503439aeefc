"""What a session host replays to whoever enters the room, read back from the record: the
latest chat messages and tags (with undos). A host that did not see them (after a restart, or
on the node that took the session over) sends the same replay as the host that did.

Reading them is a read of the session's clinical record: audited (actor: the signaling).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from server.models import Annotation, SessionAttendance
from server.services.audit import Actor, add_audit
from signaling.ports import CallHistory
from signaling.protocol import ChatMessage, Role, TaggedInfo

from .common import parse_id

T = TypeVar("T")
_ROLES: dict[str, Role] = {"therapist": "therapist", "parent": "parent", "observer": "observer"}
# Rows read and turned into messages per step. A host's first join runs on the event loop that
# also forwards the relay's media: 2,100 whole rows in one go held it ~30 ms reading and ~20 ms
# building (2 busy cores, SQLite); in steps of 200 rows of these columns, no step took 5 ms.
_STEP = 200
# Only what a replay carries (whole rows cost several times more to load).
_CHAT = (
    Annotation.author_participant_id,
    Annotation.author_role,
    Annotation.text,
    Annotation.session_ms,
    Annotation.created_at,
)
_TAGGED = (
    Annotation.client_ref,
    Annotation.kind,
    Annotation.tag,
    Annotation.goal_id,
    Annotation.payload,
    Annotation.session_ms,
)


async def call_history(
    session: AsyncSession, session_id: str, chat_limit: int, tag_limit: int, actor: Actor
) -> CallHistory:
    sid = parse_id(session_id)
    said = await _latest(session, sid, _CHAT, ("chat",), chat_limit, lambda row: row)
    tagged = await _latest(session, sid, _TAGGED, ("tag", "undo"), tag_limit, _tagged)
    if said or tagged:
        add_audit(
            session,
            actor,
            "annotation.read",
            object_type="video_session",
            object_id=sid,
            detail={"for": "call_history", "chat": len(said), "tags": len(tagged)},
        )
    names = await _names(session, sid, {row.author_participant_id for row in said})
    chat = [
        ChatMessage(
            author_id=row.author_participant_id,
            name=names.get(row.author_participant_id) or _role(row).capitalize(),
            role=_role(row),
            text=row.text or "",
            session_ms=row.session_ms,
            at=row.created_at,
        )
        for row in said
    ]
    return CallHistory(chat=chat, tagged=tagged)


async def _latest(
    session: AsyncSession,
    sid: uuid.UUID,
    columns: Sequence[QueryableAttribute[Any]],
    kinds: Sequence[str],
    limit: int,
    build: Callable[[Row[Any]], T],
) -> list[T]:
    """The last `limit` of these kinds that a host would have kept (those with the author's
    client_ref), oldest first, in the order the session clock gave them; read and built a
    step at a time, so the event loop serves others in between."""
    if limit <= 0:
        return []
    result = await session.stream(
        select(*columns)
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
    built: list[T] = []
    async for rows in result.partitions(_STEP):
        built += [build(row) for row in rows]
    built.reverse()
    return built


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


def _role(row: Row[Any]) -> Role:
    return _ROLES.get(row.author_role, "observer")  # the roles signaling stored: never another


def _tagged(row: Row[Any]) -> TaggedInfo:
    undoes = row.payload.get("undoes") if row.payload else None
    return TaggedInfo(
        client_ref=row.client_ref,
        kind="undo" if row.kind == "undo" else "tag",
        tag=row.tag,
        goal_id=row.goal_id,
        undo_ref=str(undoes) if undoes else None,
        session_ms=row.session_ms,
    )
