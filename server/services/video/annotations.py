"""Session annotations (notes, tags, drawings, snapshots) and each client's one-tap tag list.

Every write and every read adds an audit row to the caller's unit of work.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Annotation, AnnotationSnapshot, AnnotationTag, Client, VideoSession
from server.services.audit import Actor, add_audit
from server.services.errors import Invalid, NotFound, as_uuid
from signaling.ports import AnnotationDraft, TagOption

from .common import parse_id

DEFAULT_TAGS: tuple[TagOption, ...] = tuple(
    TagOption(label)
    for label in (
        "independent",
        "verbal cue",
        "visual cue",
        "hand-over-hand",
        "trial success",
        "trial fail",
    )
)
MAX_TAGS = 40
NO_SNAPSHOT = "No such snapshot."
# Snapshots come from the media frame tap; its encoding is whatever the tap produced.
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


class AnnotationError(Invalid):
    pass


def image_type(data: bytes) -> str:
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def set_client_tags(
    session: AsyncSession, client: Client, tags: Sequence[TagOption], actor: Actor
) -> list[TagOption]:
    # The same label may count toward several goals ("independent" for grasp and for buttons).
    clean: dict[tuple[str | None, str], TagOption] = {}
    for tag in tags:
        label = " ".join(tag.label.split())[:40]
        if label:
            goal_id = tag.goal_id or None
            clean.setdefault((goal_id, label.casefold()), TagOption(label, goal_id))
    if len(clean) > MAX_TAGS:
        raise AnnotationError(f"At most {MAX_TAGS} tags.")
    await session.execute(delete(AnnotationTag).where(AnnotationTag.client_id == client.id))
    for position, tag in enumerate(clean.values()):
        session.add(
            AnnotationTag(
                client_id=client.id, label=tag.label, goal_id=tag.goal_id, position=position
            )
        )
    add_audit(
        session,
        actor,
        "annotation.tags_set",
        object_type="client",
        object_id=client.id,
        detail={"tags": [t.label for t in clean.values()]},
    )
    return list(clean.values())


async def find_resent(
    session: AsyncSession, session_id: uuid.UUID, draft: AnnotationDraft
) -> Annotation | None:
    if draft.client_ref is None:
        return None
    found: Annotation | None = await session.scalar(
        select(Annotation).where(
            Annotation.session_id == session_id,
            Annotation.author_participant_id == draft.author_participant_id,
            Annotation.client_ref == draft.client_ref,
        )
    )
    return found


async def save_annotation(
    session: AsyncSession, session_id: str, draft: AnnotationDraft, actor: Actor
) -> Annotation:
    """Stores an annotation; a resend (same author and client_ref) returns the first one."""
    sid = parse_id(session_id)
    resent = await find_resent(session, sid, draft)
    if resent is not None:
        return resent
    row = Annotation(
        session_id=sid,
        author_participant_id=draft.author_participant_id,
        author_role=draft.author_role,
        author_user_id=uuid.UUID(draft.author_user_id) if draft.author_user_id else None,
        author_link_id=draft.author_link_id,
        kind=draft.kind,
        text=draft.text,
        tag=draft.tag,
        goal_id=draft.goal_id,
        payload=dict(draft.payload) if draft.payload is not None else None,
        target_participant_id=draft.target_participant_id,
        session_ms=draft.session_ms,
        recording_id=draft.recording_id,
        recording_ms=draft.recording_ms,
        client_ref=draft.client_ref,
        created_at=draft.at,
    )
    session.add(row)
    await session.flush()
    if draft.kind == "snapshot":
        if not draft.image:
            raise AnnotationError("a snapshot needs an image")
        session.add(
            AnnotationSnapshot(
                annotation_id=row.id,
                content_type=image_type(draft.image),
                byte_size=len(draft.image),
                sha256=hashlib.sha256(draft.image).hexdigest(),
                image=draft.image,
            )
        )
    add_audit(
        session,
        actor,
        f"annotation.{draft.kind}",
        object_type="video_session",
        object_id=sid,
        detail={"annotation_id": str(row.id), "target": draft.target_participant_id},
    )
    return row


async def list_annotations(
    session: AsyncSession, video: VideoSession, actor: Actor
) -> list[Annotation]:
    rows = await session.scalars(
        select(Annotation)
        .where(Annotation.session_id == video.id)
        .order_by(Annotation.session_ms, Annotation.created_at)
    )
    add_audit(session, actor, "annotation.read", object_type="video_session", object_id=video.id)
    return list(rows)


@dataclass(frozen=True)
class SnapshotImage:
    annotation: Annotation
    content_type: str
    image: bytes


async def get_snapshot(
    session: AsyncSession, video: VideoSession, annotation_id: object, actor: Actor
) -> SnapshotImage:
    aid = as_uuid(annotation_id, NO_SNAPSHOT)
    annotation = await session.get(Annotation, aid)
    snap = await session.get(AnnotationSnapshot, aid)
    if annotation is None or snap is None or annotation.session_id != video.id:
        raise NotFound(NO_SNAPSHOT)
    add_audit(
        session,
        actor,
        "annotation.snapshot_read",
        object_type="video_session",
        object_id=video.id,
        detail={"annotation_id": str(aid)},
    )
    return SnapshotImage(annotation, snap.content_type, snap.image)
