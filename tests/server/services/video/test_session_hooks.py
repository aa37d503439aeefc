"""Consents, recordings, annotations and the observation summary in the database (both backends)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from live import prepare_environment
from practice import add_account
from schema_drift import drift
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from media import LocalDirectoryStorage
from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import (
    Annotation,
    AnnotationSnapshot,
    AuditEntry,
    Client,
    Recording,
    RecordingConsent,
    RecordingFile,
    RecordingSpan,
    User,
    VideoSession,
)
from server.services.audit import Actor
from server.services.clients import ClientInput, create_client
from server.services.video.annotations import (
    DEFAULT_TAGS,
    get_snapshot,
    list_annotations,
    set_client_tags,
)
from server.services.video.observation import observation_summary
from server.services.video.recordings import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    finish_recording_file,
    list_consents,
    list_recordings,
    register_recording_file,
)
from server.services.video.sessions import record_presence, start_session
from server.video.backend import DatabaseSessionBackend
from server.video.recording import mark_interrupted_recordings, recover_recordings
from server.video.store import SharedDirectoryStore
from signaling.ports import (
    AnnotationDraft,
    AnnotationKind,
    ConsentDecision,
    RecordingUpdate,
    TagOption,
)
from signaling.protocol import RecordingState

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
HOOK_TABLES = {
    "recordings",
    "recording_spans",
    "recording_files",
    "recording_consents",
    "annotations",
    "annotation_snapshots",
    "annotation_tags",
}


@dataclass
class World:
    db: async_sessionmaker[AsyncSession]
    backend: DatabaseSessionBackend
    therapist: User
    session_id: str
    client_id: uuid.UUID
    database_url: str
    # The database lives for the whole run: ids must not collide between tests.
    rid: str = ""

    def __post_init__(self) -> None:
        self.rid = f"r_{secrets.token_hex(6)}"


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    async with transaction(db) as session:
        user = await add_account(session, "Dr. Hooks")
        client = await create_client(
            session,
            user,
            ClientInput(
                first_name="Sam",
                last_name="Child",
                date_of_birth="2019-04-02",
                time_zone="America/New_York",
                home_state="NY",
            ),
            Actor("user", str(user.id)),
        )
        video = await start_session(
            session, user, Actor("user", str(user.id)), title="Hooks", client=client
        )
    backend = DatabaseSessionBackend(db)
    yield World(db, backend, user, str(video.id), client.id, settings.database_url)
    await engine.dispose()


def decision(world: World, pid: str, accepted: bool, at: datetime, **kw: Any) -> ConsentDecision:
    parent = ConsentDecision(
        recording_id=world.rid, request_id="c_one", participant_id=pid, role="parent",
        name="Pat", user_id=None, link_id="link-1", accepted=accepted, text=CONSENT_TEXT,
        version=CONSENT_VERSION, at=at,
    )  # fmt: skip
    return replace(parent, **kw)


def update(world: World, state: RecordingState, at: datetime, offset_ms: int) -> RecordingUpdate:
    return RecordingUpdate(world.rid, state, at, offset_ms, "user:x", ("t_1", "p_1"))


def draft(kind: AnnotationKind = "tag", **kw: Any) -> AnnotationDraft:
    therapists = AnnotationDraft(
        author_participant_id="t_1", author_role="therapist", author_user_id=None,
        author_link_id=None, kind=kind, session_ms=1000, recording_ms=None, recording_id=None,
        at=T0,
    )  # fmt: skip
    return replace(therapists, **kw)


async def audits(world: World, prefix: str) -> list[AuditEntry]:
    async with world.db() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == world.session_id, AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_consents_are_stored_word_for_word_and_audited(world: World) -> None:
    tid = str(world.therapist.id)
    therapist = decision(world, "t_1", True, T0, role="therapist", user_id=tid, link_id=None)
    await world.backend.consent_recorded(world.session_id, therapist)
    await world.backend.consent_recorded(world.session_id, decision(world, "p_1", False, T0))
    await world.backend.consent_recorded(
        world.session_id, decision(world, "p_1", True, T0 + timedelta(seconds=5))
    )
    async with world.db() as session:
        rows = list(
            await session.scalars(select(RecordingConsent).order_by(RecordingConsent.decided_at))
        )
        rows = [r for r in rows if str(r.session_id) == world.session_id]
        recording = await session.get(Recording, world.rid)
    assert [(r.participant_id, r.accepted) for r in rows] == [
        ("t_1", True),
        ("p_1", False),
        ("p_1", True),
    ]
    assert all(r.text == CONSENT_TEXT and r.text_version == CONSENT_VERSION for r in rows)
    assert rows[0].user_id == world.therapist.id
    assert rows[2].decided_at == T0 + timedelta(seconds=5)
    assert recording is not None
    assert recording.state == "awaiting_consent"
    trail = await audits(world, "recording.consent")
    assert [a.detail["accepted"] for a in trail] == [True, False, True]
    assert trail[0].actor_type == "user"
    assert trail[1].actor_type == "link"
    assert trail[1].actor_id == "link-1"


async def test_recording_states_become_spans(world: World) -> None:
    b, sid = world.backend, world.session_id
    await b.consent_recorded(sid, decision(world, "p_1", True, T0))
    await b.recording_changed(sid, update(world, "recording", T0, 0))
    await b.recording_changed(sid, update(world, "paused", T0 + timedelta(seconds=10), 10_000))
    await b.recording_changed(sid, update(world, "recording", T0 + timedelta(seconds=30), 10_000))
    await b.recording_changed(sid, update(world, "stopped", T0 + timedelta(seconds=35), 15_000))
    async with world.db() as session:
        spans = list(
            await session.scalars(
                select(RecordingSpan)
                .where(RecordingSpan.recording_id == world.rid)
                .order_by(RecordingSpan.started_at)
            )
        )
        recording = await session.get(Recording, world.rid)
    assert [(s.offset_start_ms, s.offset_end_ms) for s in spans] == [(0, 10_000), (10_000, 15_000)]
    assert spans[1].ended_at == T0 + timedelta(seconds=35)
    assert recording is not None
    assert (recording.state, recording.recorded_ms) == ("stopped", 15_000)
    assert recording.started_at == T0
    assert recording.stopped_at == T0 + timedelta(seconds=35)
    trail = [a.action for a in await audits(world, "recording.")]
    assert trail[-4:] == [
        "recording.recording",
        "recording.paused",
        "recording.recording",
        "recording.stopped",
    ]


async def test_recording_files_for_the_media_recorder(world: World) -> None:
    await world.backend.recording_changed(world.session_id, update(world, "recording", T0, 0))
    actor = Actor.system()
    async with transaction(world.db) as session:
        row = await register_recording_file(
            session, world.session_id, world.rid, "p_1", "rec/p_1.webm", T0, actor
        )
        file_id = row.id
    async with transaction(world.db) as session:
        await finish_recording_file(
            session, file_id, status="finalized", sha256="ab" * 32, duration_ms=9000, actor=actor
        )
        with pytest.raises(ValueError, match="finalized, incomplete or recovered"):
            await finish_recording_file(
                session, file_id, status="recording", sha256=None, duration_ms=None, actor=actor
            )
    async with transaction(world.db) as session:
        video = await session.get(VideoSession, uuid.UUID(world.session_id))
        assert video is not None
        views = await list_recordings(session, video, actor)
        consents = await list_consents(session, video, actor)
    assert [(f.status, f.sha256, f.duration_ms) for f in views[0].files] == [
        ("finalized", "ab" * 32, 9000)
    ]
    assert consents == []
    actions = [a.action for a in await audits(world, "recording.")]
    assert "recording.file_finalized" in actions
    assert "recording.read" in actions
    assert "recording.consent_read" in actions


async def test_an_annotation_is_committed_before_its_id_returns(world: World) -> None:
    tid = str(world.therapist.id)
    saved = await world.backend.save_annotation(
        world.session_id,
        draft("tag", tag="independent", goal_id="grasp", author_user_id=tid, recording_ms=500),
    )
    # A separate connection sees it: it is committed, not merely flushed.
    async with world.db() as session:
        row = await session.get(Annotation, uuid.UUID(saved.annotation_id))
    assert row is not None
    assert (row.kind, row.tag, row.goal_id, row.session_ms, row.recording_ms) == (
        "tag",
        "independent",
        "grasp",
        1000,
        500,
    )
    assert row.author_user_id == world.therapist.id
    trail = await audits(world, "annotation.tag")
    assert trail[-1].detail["annotation_id"] == saved.annotation_id
    assert (saved.session_ms, saved.recording_ms) == (1000, 500)


async def test_a_resent_annotation_is_stored_once(world: World) -> None:
    first = await world.backend.save_annotation(
        world.session_id, draft("note", text="lost ack", client_ref="n-1", session_ms=100)
    )
    again = await world.backend.save_annotation(
        world.session_id, draft("note", text="lost ack", client_ref="n-1", session_ms=900)
    )
    other = await world.backend.save_annotation(
        world.session_id, draft("note", text="next", client_ref="n-2", session_ms=950)
    )
    assert again == first
    assert again.session_ms == 100  # the first save's clocks, not the resend's
    assert other.annotation_id != first.annotation_id
    async with world.db() as session:
        rows = await session.scalars(
            select(Annotation).where(Annotation.session_id == uuid.UUID(world.session_id))
        )
        assert sorted(r.client_ref or "" for r in rows) == ["n-1", "n-2"]


async def test_drawings_and_snapshots_keep_their_payload_and_image(world: World) -> None:
    payload = {"color": "#ff0000", "shapes": [{"kind": "rect", "points": [[0.1, 0.2]]}]}
    drawing = await world.backend.save_annotation(
        world.session_id, draft("drawing", payload=payload, target_participant_id="p_1")
    )
    drawing_id = drawing.annotation_id
    jpeg = b"\xff\xd8\xff\xe0 a tiny jpeg"
    snap = await world.backend.save_annotation(
        world.session_id, draft("snapshot", image=jpeg, target_participant_id="p_1")
    )
    snap_id = snap.annotation_id
    async with transaction(world.db) as session:
        drawn = await session.get(Annotation, uuid.UUID(drawing_id))
        assert drawn is not None
        assert drawn.payload == payload
        video = await session.get(VideoSession, uuid.UUID(world.session_id))
        assert video is not None
        image = await get_snapshot(session, video, snap_id, Actor("user", str(world.therapist.id)))
        listed = await list_annotations(session, video, Actor("user", str(world.therapist.id)))
        stored = await session.get(AnnotationSnapshot, uuid.UUID(snap_id))
    assert (image.content_type, image.image) == ("image/jpeg", jpeg)
    assert stored is not None
    assert stored.byte_size == len(jpeg)
    assert {a.kind for a in listed} == {"drawing", "snapshot"}
    actions = [a.action for a in await audits(world, "annotation.")]
    assert "annotation.snapshot_read" in actions
    assert "annotation.read" in actions


async def test_a_snapshot_without_an_image_is_not_saved(world: World) -> None:
    with pytest.raises(ValueError, match="needs an image"):
        await world.backend.save_annotation(world.session_id, draft("snapshot"))
    async with world.db() as session:
        rows = await session.scalars(
            select(Annotation).where(Annotation.session_id == uuid.UUID(world.session_id))
        )
        assert list(rows) == []


async def test_tags_default_then_follow_the_clients_list(world: World) -> None:
    assert list(await world.backend.annotation_tags(world.session_id)) == list(DEFAULT_TAGS)
    async with transaction(world.db) as session:
        client = await session.get(Client, world.client_id)
        assert client is not None
        await set_client_tags(
            session,
            client,
            [
                TagOption("trial success", "grasp"),
                TagOption(" trial  success ", "grasp"),
                TagOption("trial success"),
                TagOption("wave"),
            ],
            Actor.system(),
        )
    tags = list(await world.backend.annotation_tags(world.session_id))
    # One label per goal: the same label may be plain as well (and count toward no goal).
    assert tags == [
        TagOption("trial success", "grasp"),
        TagOption("trial success"),
        TagOption("wave"),
    ]


async def test_the_observation_summary_tallies_a_session(world: World) -> None:
    b, sid = world.backend, world.session_id
    marks = (
        [("trial success", "grasp")] * 7
        + [("trial fail", "grasp")] * 3
        + [("independent", "grasp")] * 5
        + [("verbal cue", "grasp")] * 2
        + [("trial success", "point")]
        + [("visual cue", None)] * 2
    )
    for tag, goal in marks:
        await b.save_annotation(sid, draft("tag", tag=tag, goal_id=goal))
    await b.save_annotation(sid, draft("note", text="tired today"))
    await b.save_annotation(sid, draft("drawing", payload={"shapes": []}))
    async with transaction(world.db) as session:
        for pid, name, role, joined, left in (
            ("t_1", "Dr. Hooks", "therapist", 0, 600),
            ("p_1", "Pat", "parent", 60, 300),
            ("p_1", "Pat", "parent", 360, None),
        ):
            at = T0 + timedelta(seconds=joined)
            await record_presence(session, sid, pid, role=role, name=name, joined=True, at=at)
            if left is not None:
                end = T0 + timedelta(seconds=left)
                await record_presence(session, sid, pid, role=role, name=name, joined=False, at=end)
        video = await session.get(VideoSession, uuid.UUID(sid))
        assert video is not None
        video.ended_at = T0 + timedelta(seconds=600)
    await b.recording_changed(sid, update(world, "recording", T0 + timedelta(seconds=60), 0))
    await b.recording_changed(sid, update(world, "stopped", T0 + timedelta(seconds=180), 120_000))

    async with transaction(world.db) as session:
        video = await session.get(VideoSession, uuid.UUID(sid))
        assert video is not None
        summary = await observation_summary(session, video, Actor("user", str(world.therapist.id)))

    grasp, point = summary.goals
    assert grasp.line == "grasp: 7 of 10 trials successful (independent 5, verbal cue 2)"
    assert (point.goal_id, point.successes, point.trials) == ("point", 1, 1)
    assert dict(summary.tag_counts) == {
        "trial success": 8,
        "independent": 5,
        "trial fail": 3,
        "verbal cue": 2,
        "visual cue": 2,
    }
    assert (summary.notes, summary.drawings, summary.snapshots) == (1, 1, 0)
    present = {p.participant_id: p for p in summary.attendance}
    assert present["t_1"].present_ms == 600_000
    # 240 s, then from 360 s until the session ended at 600 s.
    assert present["p_1"].present_ms == 480_000
    assert len(present["p_1"].stretches) == 2
    assert [s.duration_ms for s in summary.recorded_spans] == [120_000]
    assert summary.recorded_ms == 120_000
    assert [a.action for a in await audits(world, "observation_summary")] == [
        "observation_summary.read"
    ]


async def test_the_hook_tables_match_the_models(world: World) -> None:
    """The hand-written migration and the models agree (what `alembic check` would say)."""
    assert await drift(world.database_url, HOOK_TABLES) == []


async def test_an_interrupted_file_is_recovered_once_with_its_offset(
    world: World, tmp_path: Path
) -> None:
    """Start-up recovery claims each incomplete file in one conditional update, so two workers
    recovering at once build it once; the file keeps where it sits on the recording's clock."""
    await world.backend.recording_changed(world.session_id, update(world, "recording", T0, 0))
    actor = Actor.system()
    stored = f"{world.session_id}/{world.rid}/p_1/final.webm"
    async with transaction(world.db) as session:
        built = await register_recording_file(
            session, world.session_id, world.rid, "p_1", stored, T0, actor, offset_ms=4000
        )
        bare = await register_recording_file(
            session, world.session_id, world.rid, "p_2", stored.replace("p_1", "p_2"), T0, actor
        )
    for row in (built, bare):
        async with transaction(world.db) as session:
            await finish_recording_file(
                session, row.id, status="incomplete", sha256=None, duration_ms=None, actor=actor
            )
    # p_1's process stopped after building its file, before the database heard of it; p_2 left
    # nothing on disk.
    storage = LocalDirectoryStorage(tmp_path / world.session_id / world.rid)
    storage.mark_finalized(
        "p_1",
        {"participant_id": "p_1", "file": "p_1/final.webm", "duration": 61.5,
         "sha256": "cd" * 32, "bytes": 1234, "segments": 3, "starts_at": 0.25,
         "spans": [[0.25, 61.75, 0.0]]},
    )  # fmt: skip

    first, second = await asyncio.gather(
        recover_recordings(world.db, tmp_path, [built.id, bare.id], SharedDirectoryStore(tmp_path)),
        recover_recordings(world.db, tmp_path, [built.id], SharedDirectoryStore(tmp_path)),
    )
    assert sorted([first[str(built.id)], second[str(built.id)]]) == ["recovered", "skipped"]
    assert first[str(bare.id)] == "skipped"
    async with world.db() as session:
        recovered = await session.get(RecordingFile, built.id)
        untouched = await session.get(RecordingFile, bare.id)
    assert recovered is not None
    assert untouched is not None
    assert (recovered.status, recovered.sha256, recovered.duration_ms) == (
        "recovered", "cd" * 32, 61_500
    )  # fmt: skip
    # The recorder started 4 s into the recording; its first packet came 0.25 s later.
    assert recovered.offset_ms == 4250
    assert untouched.status == "incomplete"
    actions = [a.action for a in await audits(world, "recording.file_")]
    assert actions.count("recording.file_recovered") == 1


async def test_recover_recordings_command_retries_incomplete_files(
    world: World, tmp_path: Path
) -> None:
    actor = Actor.system()
    await world.backend.recording_changed(world.session_id, update(world, "recording", T0, 0))
    stored = f"{world.session_id}/{world.rid}/p_1/final.webm"
    ids = []
    async with transaction(world.db) as session:
        for pid in ("p_1", "p_2"):
            row = await register_recording_file(
                session, world.session_id, world.rid, pid, stored.replace("p_1", pid), T0, actor
            )
            ids.append(row.id)
    for file_id in ids:
        async with transaction(world.db) as session:
            await finish_recording_file(
                session, file_id, status="incomplete", sha256=None, duration_ms=None, actor=actor
            )
    LocalDirectoryStorage(tmp_path / world.session_id / world.rid).mark_finalized(
        "p_1",
        {"participant_id": "p_1", "file": "p_1/final.webm", "duration": 2.0, "sha256": "ef" * 32,
         "bytes": 10, "segments": 1, "starts_at": 0.0, "spans": [[0.0, 2.0, 0.0]]},
    )  # fmt: skip
    # (prepare_environment would migrate with asyncio.run, inside this test's loop)
    env = await asyncio.to_thread(prepare_environment, tmp_path, database_url=world.database_url)
    env["TANDEM_STORAGE_DIR"] = str(tmp_path)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "recover-recordings"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # p_2 has nothing to build from: it stays incomplete, and the command says so.
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{ids[0]}: recovered" in done.stdout
    assert f"{ids[1]}: skipped" in done.stdout
    async with world.db() as session:
        statuses = [(await session.get(RecordingFile, file_id)) for file_id in ids]
    assert [row.status for row in statuses if row is not None] == ["recovered", "incomplete"]


async def test_a_crash_closes_the_open_span_where_the_journals_stop(
    world: World, tmp_path: Path
) -> None:
    """Start-up after a crash: the recording stops where its journals were last written, not
    when the process came back (the observation summary counts recorded time from spans)."""
    await world.backend.recording_changed(world.session_id, update(world, "recording", T0, 0))
    stored = f"{world.session_id}/{world.rid}/p_1/final.webm"
    async with transaction(world.db) as session:
        row = await register_recording_file(
            session, world.session_id, world.rid, "p_1", stored, T0, Actor.system(), offset_ms=0
        )
    journal = tmp_path / world.session_id / world.rid / "p_1" / "journal.bin"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"TNDMJRN1")
    last_write = (T0 + timedelta(seconds=95)).timestamp()
    os.utime(journal, (last_write, last_write))

    interrupted = await mark_interrupted_recordings(world.db, None, tmp_path)

    assert row.id in interrupted
    async with world.db() as session:
        recording = await session.get(Recording, world.rid)
        spans = list(
            await session.scalars(
                select(RecordingSpan).where(RecordingSpan.recording_id == world.rid)
            )
        )
        file = await session.get(RecordingFile, row.id)
    assert file is not None
    assert file.status == "incomplete"
    assert [(s.ended_at, s.offset_end_ms) for s in spans] == [(T0 + timedelta(seconds=95), 95_000)]
    assert recording is not None
    assert (recording.state, recording.recorded_ms) == ("stopped", 95_000)
    assert recording.stopped_at == T0 + timedelta(seconds=95)
