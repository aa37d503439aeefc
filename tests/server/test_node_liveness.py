"""Nodes in the database: attendance a dead process left open ends at its last heartbeat, a
removal outlives the host, and a restarted host learns who was admitted (both backends)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fast_passwords import FAST_PASSWORDS
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Recording, RecordingFile, SessionAttendance, VideoNode, VideoSession
from server.services.accounts import create_user
from server.services.audit import Actor
from server.services.video.nodes import beat, register_node
from server.services.video.observation import observation_summary
from server.services.video.recordings import register_recording_file
from server.services.video.sessions import start_session
from server.video.backend import DatabaseSessionBackend
from server.video.liveness import NodeLiveness
from server.video.recording import mark_interrupted_recordings
from signaling.ports import PastParticipant, RecordingUpdate

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@dataclass
class World:
    db: async_sessionmaker[AsyncSession]
    session_id: str
    actor: Actor
    # The database lives for the whole run: node ids must not collide between tests.
    tag: str

    def node(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def backend(self, node: str | None) -> DatabaseSessionBackend:
        return DatabaseSessionBackend(self.db, node)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    async with transaction(db) as session:
        user = await create_user(
            session,
            FAST_PASSWORDS,
            email=f"nodes-{secrets.token_hex(4)}@example.test",
            name="Dr. Nodes",
            password="correct-horse-1",
        )
        actor = Actor("user", str(user.id))
        video = await start_session(session, user, actor, title="Nodes")
    yield World(db, str(video.id), actor, secrets.token_hex(4))
    await engine.dispose()


async def rows(world: World) -> list[SessionAttendance]:
    async with world.db() as session:
        found = await session.scalars(
            select(SessionAttendance)
            .where(SessionAttendance.session_id == uuid.UUID(world.session_id))
            .order_by(SessionAttendance.joined_at, SessionAttendance.participant_id)
        )
        return list(found)


async def node_beat_at(world: World, node_id: str, at: datetime) -> None:
    async with transaction(world.db) as session:
        await register_node(session, node_id, T0)
        await beat(session, node_id, at)


async def test_a_restart_ends_what_the_dead_process_left_open_at_its_last_heartbeat(
    world: World,
) -> None:
    dead = world.node("dead")
    backend = world.backend(dead)
    await backend.participant_joined(world.session_id, "t_1", "therapist", "Dr. Nodes", T0)
    await backend.participant_joined(
        world.session_id, "p_1", "parent", "Pat", T0 + timedelta(seconds=5)
    )
    # The process beat for the last time 40 s in; SIGKILL; nobody said goodbye.
    await node_beat_at(world, dead, T0 + timedelta(seconds=40))

    restarted = NodeLiveness(world.db, world.node("restarted"), interval=60)
    repairs = await restarted.start()  # one process, no Redis: every other node is dead
    try:
        assert dead in {r.node_id for r in repairs}
        assert [(r.participant_id, r.left_at) for r in await rows(world)] == [
            ("t_1", T0 + timedelta(seconds=40)),
            ("p_1", T0 + timedelta(seconds=40)),
        ]
        async with world.db() as session:
            assert await session.get(VideoNode, dead) is None
            video = await session.get(VideoSession, uuid.UUID(world.session_id))
            assert video is not None
            summary = await observation_summary(session, video, world.actor)
        minutes = {p.participant_id: p.present_ms for p in summary.attendance}
        assert minutes == {"t_1": 40_000, "p_1": 35_000}
    finally:
        await restarted.stop()


async def test_a_clean_stop_ends_the_nodes_own_stretches_now(world: World) -> None:
    node = NodeLiveness(world.db, world.node("clean"), interval=60)
    await node.start()
    before = datetime.now(UTC)
    backend = world.backend(node.node_id)
    await backend.participant_joined(world.session_id, "p_1", "parent", "Pat", before)
    await node.stop()
    [row] = await rows(world)
    assert row.left_at is not None
    assert before <= row.left_at <= datetime.now(UTC)
    async with world.db() as session:
        assert await session.get(VideoNode, node.node_id) is None


async def test_with_redis_only_nodes_known_dead_and_silent_in_the_database_are_retired(
    world: World,
) -> None:
    now = datetime.now(UTC)
    alive, starting, dead = world.node("alive"), world.node("starting"), world.node("dead")
    for i, node_id in enumerate((alive, starting, dead)):
        await world.backend(node_id).participant_joined(
            world.session_id, f"p_{i}", "parent", "Pat", T0
        )
    await node_beat_at(world, alive, now - timedelta(minutes=5))  # Redis says it is alive
    await node_beat_at(world, starting, now)  # not in Redis (yet), beating here
    await node_beat_at(world, dead, now - timedelta(minutes=5))

    async def in_redis() -> list[str]:
        return [alive]

    me = NodeLiveness(world.db, world.node("me"), interval=5)
    repairs = await me.start(in_redis)
    try:
        assert dead in {r.node_id for r in repairs}
        assert {alive, starting}.isdisjoint(r.node_id for r in repairs)
        open_rows = {r.participant_id for r in await rows(world) if r.left_at is None}
        assert open_rows == {"p_0", "p_1"}
        # Declared dead by Redis later (an empty channel): retired at once, at its last beat.
        repair = await me.node_died(starting)
        assert repair.attendance_closed == 1
        assert {r.participant_id for r in await rows(world) if r.left_at is None} == {"p_0"}
        # Twice (two nodes acting on one death) changes nothing more.
        assert (await me.node_died(starting)).attendance_closed == 0
    finally:
        await me.stop()


async def test_the_same_node_id_after_a_restart_retires_its_earlier_process(
    world: World,
) -> None:
    # A container restarted: same host name, same pid, a new process.
    node_id = world.node("pid1")
    await world.backend(node_id).participant_joined(world.session_id, "p_1", "parent", "Pat", T0)
    await node_beat_at(world, node_id, T0 + timedelta(seconds=30))
    again = NodeLiveness(world.db, node_id, interval=60)
    await again.start()
    try:
        [row] = await rows(world)
        assert row.left_at == T0 + timedelta(seconds=30)
        async with world.db() as session:
            node = await session.get(VideoNode, node_id)
            assert node is not None
            assert node.started_at > T0 + timedelta(seconds=30)
    finally:
        await again.stop()


async def test_the_records_say_who_was_admitted_and_who_was_removed(world: World) -> None:
    backend = world.backend(world.node("n"))
    sid = world.session_id
    assert await backend.past_participant(sid, "p_1") is None
    assert await backend.past_participant("not-a-session", "p_1") is None
    await backend.participant_joined(sid, "t_9", "therapist", "Dr. Nodes", T0)
    await backend.participant_joined(sid, "p_1", "parent", "Pat", T0)
    await backend.participant_joined(sid, "o_1", "observer", "Olu", T0)
    assert await backend.past_participant(sid, "p_1") == PastParticipant("parent", False)
    assert await backend.past_participant(sid, "o_1") == PastParticipant("observer", False)
    await backend.participant_removed(sid, "p_1", T0 + timedelta(minutes=1))
    await backend.participant_removed(sid, "p_1", T0 + timedelta(minutes=2))  # idempotent
    assert await backend.past_participant(sid, "p_1") == PastParticipant("parent", True)

    record = await backend.load_session(sid)
    assert record is not None
    assert record.therapist_participant_id == "t_9"
    assert record.recorded_before is False
    update = RecordingUpdate("r_" + world.tag, "awaiting_consent", T0, 0, "user:x", ())
    await backend.recording_changed(sid, update)
    record = await backend.load_session(sid)
    assert record is not None
    assert record.recorded_before is True


async def test_a_dead_nodes_recordings_stop_and_no_other(world: World) -> None:
    """Declared dead while this process runs: only the dead node's sessions, only what began
    before the declaration (a recording started since then is a live one)."""
    backend = world.backend(world.node("n"))
    rid_dead, rid_live = f"r_d{world.tag}", f"r_l{world.tag}"
    for rid in (rid_dead, rid_live):
        await backend.recording_changed(
            world.session_id, RecordingUpdate(rid, "recording", T0, 0, "user:x", ("p_1",))
        )
    declared = datetime.now(UTC)
    async with transaction(world.db) as session:
        old = await register_recording_file(
            session, world.session_id, rid_dead, "p_1", "x/a.webm", T0, Actor.system(), offset_ms=0
        )
        new = await register_recording_file(
            session,
            world.session_id,
            rid_live,
            "p_1",
            "x/b.webm",
            declared + timedelta(seconds=1),
            Actor.system(),
            offset_ms=0,
        )
        live_rec = await session.get(Recording, rid_live)
        assert live_rec is not None
        live_rec.created_at = declared + timedelta(seconds=1)

    async def not_the_dead_nodes(session_id: str) -> bool:
        return session_id != world.session_id

    marked = await mark_interrupted_recordings(
        world.db, not_the_dead_nodes, None, started_before=declared
    )
    assert marked == [old.id]
    async with world.db() as session:
        states = {
            rid: (await session.get(Recording, rid)).state  # type: ignore[union-attr]
            for rid in (rid_dead, rid_live)
        }
        file_new = await session.get(RecordingFile, new.id)
    assert states == {rid_dead: "stopped", rid_live: "recording"}
    assert file_new is not None
    assert file_new.status == "recording"
