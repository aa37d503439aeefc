"""Recordings: consent text and decisions, recording state and spans, the recorder's files.

Writes add their audit row to the caller's unit of work (they commit together); reads of these
clinical records are audited too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Recording,
    RecordingConsent,
    RecordingFile,
    RecordingSpan,
    User,
    VideoSession,
)
from server.services.audit import Actor, add_audit
from server.services.errors import Conflict, NotFound, as_uuid
from signaling.ports import ConsentDecision, ConsentText, RecordingUpdate

from .common import parse_id

# Bump the version whenever the text changes: each decision stores both, so what anyone agreed
# to can be shown later word for word. PENDING REVIEW by the practice (retention, access).
CONSENT_VERSION = "2026-11-27.1"
CONSENT_TEXT = (
    "Your therapist would like to record this session.\n"
    "What is recorded: the audio and video of everyone in the call (observers included), "
    "from the moment everyone has agreed until the therapist stops the recording. Recording "
    "pauses whenever someone new joins, until they agree too.\n"
    "Who can see it: your therapist and the clinical staff of the practice who have access to "
    "the child's record. It is not shared with anyone else without your written permission.\n"
    "How long it is kept: 90 days, unless your therapist adds it to the child's clinical "
    "record, which is kept as long as the law requires for health records.\n"
    "You can say no, and you can change your mind at any time during the session; the session "
    "continues either way."
)
# recording -> finalized (stopped and built), or -> incomplete (the process stopped while it
# ran) -> recovering (a restarted process builds it from its journal) -> recovered (playable;
# ends up to ~0.5 s before the stop) or back to incomplete (nothing could be built).
FILE_STATUSES = ("recording", "finalized", "incomplete", "recovering", "recovered")
# Files that can be played, attached to a note and exported.
PLAYABLE = ("finalized", "recovered")
NO_RECORDING = "No such recording."


def consent_text() -> ConsentText:
    return ConsentText(CONSENT_TEXT, CONSENT_VERSION)


async def _recording(
    session: AsyncSession, session_id: uuid.UUID, recording_id: str, requested_by: str
) -> Recording:
    row = await session.get(Recording, recording_id)
    if row is None:
        row = Recording(
            id=recording_id,
            session_id=session_id,
            requested_by=requested_by[:100],
            state="awaiting_consent",
            recorded_ms=0,
        )
        session.add(row)
        await session.flush()
    return row


async def record_consent(
    session: AsyncSession, session_id: str, decision: ConsentDecision, actor: Actor
) -> RecordingConsent:
    sid = parse_id(session_id)
    # The therapist's own consent (the request) arrives before any state change.
    requester = f"participant:{decision.participant_id}"
    await _recording(session, sid, decision.recording_id, requester)
    row = RecordingConsent(
        session_id=sid,
        recording_id=decision.recording_id,
        request_id=decision.request_id,
        participant_id=decision.participant_id,
        role=decision.role,
        display_name=decision.name[:80],
        user_id=uuid.UUID(decision.user_id) if decision.user_id else None,
        link_id=decision.link_id,
        accepted=decision.accepted,
        text=decision.text,
        text_version=decision.version,
        decided_at=decision.at,
    )
    session.add(row)
    await session.flush()
    add_audit(
        session,
        actor,
        "recording.consent",
        object_type="video_session",
        object_id=sid,
        detail={
            "recording_id": decision.recording_id,
            "participant_id": decision.participant_id,
            "accepted": decision.accepted,
            "version": decision.version,
            "consent_id": str(row.id),
        },
    )
    return row


async def apply_recording_update(
    session: AsyncSession, session_id: str, update: RecordingUpdate, actor: Actor
) -> Recording:
    """Keeps the recording's state and its spans: a span is open exactly while it records."""
    sid = parse_id(session_id)
    row = await _recording(session, sid, update.recording_id, update.requested_by)
    row.state = update.state
    row.recorded_ms = update.offset_ms
    open_span = await session.scalar(
        select(RecordingSpan).where(
            RecordingSpan.recording_id == row.id, RecordingSpan.ended_at.is_(None)
        )
    )
    if update.state == "recording":
        row.started_at = row.started_at or update.at
        if open_span is None:
            session.add(
                RecordingSpan(
                    recording_id=row.id, started_at=update.at, offset_start_ms=update.offset_ms
                )
            )
    elif open_span is not None:
        open_span.ended_at = update.at
        open_span.offset_end_ms = update.offset_ms
    if update.state == "stopped":
        row.stopped_at = update.at
    add_audit(
        session,
        actor,
        f"recording.{update.state}",
        object_type="video_session",
        object_id=sid,
        detail={
            "recording_id": row.id,
            "offset_ms": update.offset_ms,
            "participants": list(update.participant_ids),
        },
    )
    return row


# --- the recorder's files (called by the media recorder's wiring) ------------------------------


async def has_recordings(session: AsyncSession, session_id: uuid.UUID) -> bool:
    """Whether anything was ever recorded (or asked to be) in the session."""
    found = await session.scalar(
        select(Recording.id).where(Recording.session_id == session_id).limit(1)
    )
    return found is not None


async def find_open_recording(session: AsyncSession, session_id: str) -> Recording | None:
    """The session's recording that has not stopped (the one consent was just given for)."""
    found: Recording | None = await session.scalar(
        select(Recording)
        .where(Recording.session_id == session_id, Recording.state != "stopped")
        .order_by(Recording.created_at.desc())
    )
    return found


async def register_recording_file(
    session: AsyncSession,
    session_id: str,
    recording_id: str,
    participant_id: str,
    storage_path: str,
    started_at: datetime,
    actor: Actor,
    offset_ms: int | None = None,
) -> RecordingFile:
    """``offset_ms``: the recording's clock when this participant's recorder started; the
    finished file's offset adds where its first packet came (kept for a file recovered after a
    crash, which has no recorder left to say)."""
    sid = parse_id(session_id)
    row = RecordingFile(
        recording_id=recording_id,
        session_id=sid,
        participant_id=participant_id,
        status="recording",
        storage_path=storage_path,
        started_at=started_at,
        offset_ms=offset_ms,
    )
    session.add(row)
    await session.flush()
    add_audit(
        session,
        actor,
        "recording.file_started",
        object_type="video_session",
        object_id=sid,
        detail={"file_id": str(row.id), "participant_id": participant_id, "path": storage_path},
    )
    return row


async def finish_recording_file(
    session: AsyncSession,
    file_id: uuid.UUID,
    *,
    status: str,
    sha256: str | None,
    duration_ms: int | None,
    actor: Actor,
    offset_ms: int | None = None,
) -> RecordingFile:
    if status not in ("finalized", "incomplete", "recovered"):
        raise ValueError(f"a file finishes finalized, incomplete or recovered, not {status!r}")
    row = await session.get(RecordingFile, file_id)
    if row is None:
        raise NotFound(NO_RECORDING)
    row.status, row.sha256, row.duration_ms = status, sha256, duration_ms
    if offset_ms is not None:  # else the recorder's start, as registered, stays
        row.offset_ms = offset_ms
    row.finalized_at = utcnow()
    add_audit(
        session,
        actor,
        f"recording.file_{status}",
        object_type="video_session",
        object_id=row.session_id,
        detail={"file_id": str(row.id), "sha256": sha256, "duration_ms": duration_ms},
    )
    return row


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordingView:
    recording: Recording
    spans: list[RecordingSpan]
    files: list[RecordingFile]


async def list_recordings(
    session: AsyncSession, video: VideoSession, actor: Actor
) -> list[RecordingView]:
    recordings = list(
        await session.scalars(
            select(Recording)
            .where(Recording.session_id == video.id)
            .order_by(Recording.created_at, Recording.id)
        )
    )
    views = []
    for rec in recordings:
        spans = await session.scalars(
            select(RecordingSpan)
            .where(RecordingSpan.recording_id == rec.id)
            .order_by(RecordingSpan.started_at)
        )
        files = await session.scalars(
            select(RecordingFile)
            .where(RecordingFile.recording_id == rec.id)
            .order_by(RecordingFile.participant_id)
        )
        views.append(RecordingView(rec, list(spans), list(files)))
    add_audit(session, actor, "recording.read", object_type="video_session", object_id=video.id)
    return views


async def list_consents(
    session: AsyncSession, video: VideoSession, actor: Actor
) -> list[RecordingConsent]:
    rows = await session.scalars(
        select(RecordingConsent)
        .where(RecordingConsent.session_id == video.id)
        .order_by(RecordingConsent.decided_at, RecordingConsent.id)
    )
    add_audit(
        session, actor, "recording.consent_read", object_type="video_session", object_id=video.id
    )
    return list(rows)


async def read_recording_file(
    session: AsyncSession, user: User, file_id: object, actor: Actor, *, range_header: str
) -> RecordingFile | None:
    """The file if the user may play it (the session's therapist, or an admin), else None: the
    same answer whether it exists or not. The read is audited either way, refusals included
    (which is why this answers None rather than raising: the audit row must commit)."""
    file_id = as_uuid(file_id, NO_RECORDING)
    row = await session.get(RecordingFile, file_id)
    video = await session.get(VideoSession, row.session_id) if row is not None else None
    allowed = video is not None and (video.therapist_id == user.id or user.is_admin)
    add_audit(
        session,
        actor,
        "recording.media_read",
        object_type="video_session",
        object_id=row.session_id if row is not None else None,
        outcome="ok" if allowed else "refused",
        detail={"file_id": str(file_id), "range": range_header[:40]},
    )
    return row if allowed else None


MISSING_FROM_STORAGE = "The recording file is missing from storage."


def playable_key(row: RecordingFile | None) -> str:
    """The store key (server/video/store.py) of a file read with read_recording_file, if it
    can be played."""
    if row is None:
        raise NotFound(NO_RECORDING)
    if row.status not in PLAYABLE:
        raise Conflict("This recording is not finalized (it may be incomplete).")
    return row.storage_path
