"""Recording files a stopped process left behind: marked incomplete, claimed by one builder, and
what became of each. The building itself (from the journals on disk) is the runtime's, in
server/video/recording.py; these are its database half.

recording -> incomplete (the process stopped while it ran) -> recovering (one builder claimed it)
-> recovered (finish_recording_file) or back to incomplete (nothing could be built).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Recording, RecordingFile, RecordingSpan
from server.services.audit import Actor, add_audit

# A file left 'recovering' this long belongs to a builder that stopped too: claimed again.
RECOVERY_STALE_AFTER = timedelta(minutes=10)


async def mark_interrupted_files(
    session: AsyncSession,
    actor: Actor,
    hosted_elsewhere: Callable[[str], Awaitable[bool]] | None,
    last_journal_write: Callable[[Recording], datetime | None],
    started_before: datetime | None = None,
) -> list[uuid.UUID]:
    """Files still 'recording' belong to a process that died mid-recording, unless (with
    several nodes) a live node still hosts their session: marked incomplete, ids returned.

    Their recordings are stopped, and the span that was open is closed where the recording
    really ended (``last_journal_write``, at most ~0.5 s before the process died), so the
    recorded time is not counted up to whenever the process came back. So is every other
    recording of those processes that had not stopped (paused, or waiting for consent): a host
    never inherits a recording, a new one needs everyone's consent again.

    ``started_before``: only what began before then (a node declared dead while this process
    runs: recordings its own sessions start afterwards are not the dead node's)."""
    found = await session.scalars(select(RecordingFile).where(RecordingFile.status == "recording"))
    rows = []
    for row in found:
        if started_before is not None and row.started_at >= started_before:
            continue
        if hosted_elsewhere is not None and await hosted_elsewhere(str(row.session_id)):
            continue
        rows.append(row)
    for row in rows:
        row.status = "incomplete"
        row.finalized_at = utcnow()
        add_audit(
            session,
            actor,
            "recording.file_incomplete",
            object_type="video_session",
            object_id=row.session_id,
            detail={"file_id": str(row.id), "reason": "process stopped while recording"},
        )
    open_recordings = await session.scalars(select(Recording).where(Recording.state != "stopped"))
    for recording in open_recordings:
        if recording.id not in {r.recording_id for r in rows}:
            if started_before is not None and recording.created_at >= started_before:
                continue
            if hosted_elsewhere is not None and await hosted_elsewhere(str(recording.session_id)):
                continue
        await _stop_where_it_ended(session, recording, last_journal_write(recording))
    return [row.id for row in rows]


async def _stop_where_it_ended(
    session: AsyncSession, recording: Recording, last: datetime | None
) -> None:
    span = await session.scalar(
        select(RecordingSpan).where(
            RecordingSpan.recording_id == recording.id, RecordingSpan.ended_at.is_(None)
        )
    )
    stopped_at = last or utcnow()
    if span is not None:
        end = max(span.started_at, min(last, utcnow())) if last else span.started_at
        span.ended_at = end
        span.offset_end_ms = span.offset_start_ms + int(
            (end - span.started_at).total_seconds() * 1000
        )
        recording.recorded_ms = span.offset_end_ms
        stopped_at = end
    recording.state, recording.stopped_at = "stopped", stopped_at


async def list_incomplete_file_ids(session: AsyncSession) -> list[uuid.UUID]:
    return list(
        await session.scalars(select(RecordingFile.id).where(RecordingFile.status == "incomplete"))
    )


async def get_recording_file(session: AsyncSession, file_id: uuid.UUID) -> RecordingFile | None:
    return await session.get(RecordingFile, file_id)


async def claim_file_for_recovery(
    session: AsyncSession, file_id: uuid.UUID
) -> RecordingFile | None:
    """incomplete -> recovering in one conditional UPDATE: with several workers starting at
    once, exactly one of them builds each file."""
    now = utcnow()
    claimed = await session.execute(
        update(RecordingFile)
        .where(
            RecordingFile.id == file_id,
            (RecordingFile.status == "incomplete")
            | (
                (RecordingFile.status == "recovering")
                & (RecordingFile.finalized_at < now - RECOVERY_STALE_AFTER)
            ),
        )
        .values(status="recovering", finalized_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    return await session.get(RecordingFile, file_id)


async def fail_file_recovery(
    session: AsyncSession, file_id: uuid.UUID, error: str, actor: Actor
) -> None:
    """Nothing could be built: the file goes back to incomplete (a later retry may try again)."""
    failed = await session.get(RecordingFile, file_id)
    if failed is None:
        return
    failed.status = "incomplete"
    add_audit(
        session,
        actor,
        "recording.file_recovery_failed",
        object_type="video_session",
        object_id=failed.session_id,
        detail={"file_id": str(file_id), "error": error[:200]},
    )
