"""Home-program items made from a moment of a session's recording, and who may see their clip.

The therapist picks a recording file of the session and a span (1 to 60 s); the clip is cut
from the file the recording store keeps (media/recording/clip.py, in a worker thread; fetched
from the store when this host did not record it) and published to the store under
``clips/<name>``, so any host serves it. The family sees it only while the family's sharing
consent is in force: withdrawn, the clip is gone from the family page and its URL answers 403
at once.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Client, HomeProgramItem, RecordingFile, User, VideoSession
from server.services.audit import Actor, add_audit
from server.services.errors import NotFound, ValidationFailed
from server.services.video.recordings import playable_key, read_recording_file

from .access import FamilyIdentity
from .forms import current_consent
from .home_program import add_item

MAX_CLIP_MS = 60_000
MIN_CLIP_MS = 1_000
CLIPS_DIR = "clips"


def parse_span(start: str, end: str) -> tuple[int, int]:
    """Seconds from a form (decimals allowed) as milliseconds, checked."""
    try:
        start_ms, end_ms = round(float(start) * 1000), round(float(end) * 1000)
    except ValueError:
        raise ValidationFailed({"start": "Give the start and end in seconds."}) from None
    if start_ms < 0 or not MIN_CLIP_MS <= end_ms - start_ms <= MAX_CLIP_MS:
        raise ValidationFailed({"end": "A clip runs from 1 second to 1 minute."})
    return start_ms, end_ms


async def clip_source(
    session: AsyncSession, therapist: User, video: VideoSession, file_id: str, actor: Actor
) -> tuple[RecordingFile, str]:
    """The session's finalized recording file to cut from (its read audited), and its key in
    the recording store."""
    row = await read_recording_file(session, therapist, file_id, actor, range_header="clip")
    if row is not None and row.session_id != video.id:
        row = None
    key = playable_key(row)  # NotFound or Conflict when it cannot be cut
    assert row is not None
    return row, key


def clip_key(name: str) -> str:
    """The clip's key in the recording store (its path under TANDEM_STORAGE_DIR with the
    shared-directory store)."""
    return f"{CLIPS_DIR}/{name}"


def new_clip_name() -> str:
    return f"{uuid.uuid4()}.webm"


async def add_clip_item(
    session: AsyncSession, therapist: User, video: VideoSession, source: RecordingFile, *,
    title: str, instruction: str, name: str, start_ms: int, end_ms: int, lead_in_ms: int,
    actor: Actor,
) -> HomeProgramItem:  # fmt: skip
    if video.client_id is None:
        raise ValidationFailed({"file_id": "This session has no client to share the clip with."})
    client = await session.get(Client, video.client_id)
    if client is None:
        raise NotFound("No such client.")
    item = await add_item(session, therapist, client, title, instruction, actor)
    item.clip_file_id, item.clip_name = source.id, name
    item.clip_start_ms, item.clip_end_ms, item.clip_lead_in_ms = start_ms, end_ms, lead_in_ms
    add_audit(
        session, actor, "home_program.clip", object_type="home_program_item", object_id=item.id,
        detail={"file_id": str(source.id), "start_ms": start_ms, "end_ms": end_ms,
                "lead_in_ms": lead_in_ms},
    )  # fmt: skip
    return item


async def sharing_allowed(session: AsyncSession, identity: FamilyIdentity) -> bool:
    """Everyone visible in a clip of the family's visit is the family (and the therapist who
    made it): their sharing consent decides."""
    return await current_consent(session, identity.client.id, "sharing") is not None
