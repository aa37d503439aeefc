"""A documentation test world on the real database: therapist, client, plan of care, visits.

Shared by the documentation tests in tests/server/ and tests/e2e/ (test modules cannot import
each other).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from practice import add_account
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, Client, PlanOfCare, User, VideoSessionState
from server.services.audit import Actor
from server.services.clients import CaregiverInput, ClientInput, create_client
from server.services.documentation.chart import add_consent
from server.services.documentation.plans import GoalInput, PlanInput, create_plan
from server.services.video.annotations import save_annotation
from server.services.video.recordings import (
    CONSENT_TEXT,
    CONSENT_VERSION,
    apply_recording_update,
    finish_recording_file,
    record_consent,
    register_recording_file,
)
from server.services.video.sessions import record_presence, set_state, start_session
from signaling.ports import AnnotationDraft, AnnotationKind, ConsentDecision, RecordingUpdate

T0 = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in Chicago
CERT_START = date(2026, 10, 1)


def goals() -> list[GoalInput]:
    return [
        GoalInput("long", "grasp", "Uses a tripod grasp on a crayon", "percent_trials", "20",
                  "80", "2026-12-20"),
        GoalInput("short", "buttons", "Buttons three 1-inch buttons", "duration", "120", "45",
                  "2026-12-01"),
    ]  # fmt: skip


def plan_input(cert_end: str = "2026-12-30", **kw: str) -> PlanInput:
    fields = {
        "discipline": "ot", "assessment": "Fine-motor delay.", "visits_per_week": "2",
        "visit_minutes": "60", "cert_start": CERT_START.isoformat(), "cert_end": cert_end,
    }  # fmt: skip
    fields.update(kw)
    return PlanInput(**fields, goals=goals())


@dataclass
class DocWorld:
    db: async_sessionmaker[AsyncSession]
    therapist: User
    client: Client
    plan: PlanOfCare

    @property
    def actor(self) -> Actor:
        return Actor("user", str(self.therapist.id), self.therapist.email)

    async def other_user(self) -> User:
        async with transaction(self.db) as session:
            return await add_account(session, "Other Therapist")

    async def visit(
        self,
        starts_at: datetime,
        *,
        mode: str = "in_person",
        status: str = "completed",
        service_type: str = "ot_treatment",
    ) -> Appointment:
        async with transaction(self.db) as session:
            appt = Appointment(
                therapist_id=self.therapist.id, client_id=self.client.id, starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1), mode=mode, client_state="IL",
                service_type=service_type, status=status, overridden=[],
                ended_at=starts_at + timedelta(hours=1) if status == "completed" else None,
            )  # fmt: skip
            session.add(appt)
            await session.flush()
            await session.refresh(appt, ["client"])
            return appt


async def make_world(db: async_sessionmaker[AsyncSession], **plan_kw: str) -> DocWorld:
    async with transaction(db) as session:
        user = await add_account(session, "Jordan Avery, OTR/L", time_zone="America/Chicago")
        actor = Actor("user", str(user.id), user.email)
        client = await create_client(
            session, user,
            ClientInput("Maya", "Okafor", "2019-04-12", "America/Chicago", "IL", "",
                        [CaregiverInput("Ada Okafor", "Mother", "ada@example.test")]),
            actor,
        )  # fmt: skip
        plan = await create_plan(session, user, client, plan_input(**plan_kw), actor)
        # Telehealth notes are signed only with consent on file; the family's was charted.
        await add_consent(
            session, user, client, "telehealth", "Ada Okafor", date(2020, 1, 6), actor
        )
    return DocWorld(db, user, client, plan)


@asynccontextmanager
async def open_world(database_url: str) -> AsyncIterator[DocWorld]:
    """A new world on the database at ``database_url``; its engine is disposed when the block
    ends (the rows stay, and so do the loaded attributes of the world's objects)."""
    engine = make_engine(database_url)
    try:
        yield await make_world(make_sessionmaker(engine))
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class HeldSession:
    appointment: Appointment
    video_id: uuid.UUID
    recording_id: str


async def held_telehealth_session(world: DocWorld, starts_at: datetime = T0) -> HeldSession:
    """A completed telehealth visit with its whole session record, written through the services:
    the therapist and a parent present (the parent dropped once), annotations tagged to goals,
    a note, a snapshot, and a recording with one finalized file."""
    appt = await world.visit(starts_at, mode="telehealth")
    goal1, goal2 = world.plan.goals
    tid = str(world.therapist.id)
    rid = f"r_{secrets.token_hex(6)}"
    at = starts_at + timedelta(minutes=1)
    async with transaction(world.db) as session:
        video = await start_session(
            session, world.therapist, world.actor, title="Maya OT", client=world.client,
            planned_start=starts_at, planned_end=starts_at + timedelta(hours=1),
        )  # fmt: skip
        video.appointment_id = appt.id
        vid = str(video.id)
        for pid, role, name, joined, left in (
            ("t_1", "therapist", "Jordan Avery", 0, 46),
            ("p_1", "parent", "Ada Okafor", 1, 20),
            ("p_1", "parent", "Ada Okafor", 22, 46),
        ):
            await record_presence(
                session, vid, pid, role=role, name=name, joined=True,
                at=at + timedelta(minutes=joined),
            )  # fmt: skip
            await record_presence(
                session, vid, pid, role=role, name=name, joined=False,
                at=at + timedelta(minutes=left),
            )  # fmt: skip
        await set_state(session, vid, VideoSessionState.live)
        video.live_at = at
        await record_consent(
            session, vid,
            ConsentDecision(rid, "c_1", "p_1", "parent", "Ada Okafor", None, "link-1", True,
                            CONSENT_TEXT, CONSENT_VERSION, at),
            world.actor,
        )  # fmt: skip
        await apply_recording_update(
            session, vid, RecordingUpdate(rid, "recording", at, 0, f"user:{tid}", ("t_1", "p_1")),
            world.actor,
        )  # fmt: skip
        tagged = [("independent", goal1, 7), ("verbal cue", goal1, 3),
                  ("trial success", goal2, 2), ("trial fail", goal2, 1)]  # fmt: skip
        marks: list[tuple[AnnotationKind, str | None, str | None, str | None]] = [
            ("tag", tag, str(goal.id), None) for tag, goal, count in tagged for _ in range(count)
        ]
        marks += [("note", None, None, "Used tripod grasp after a model."),
                  ("snapshot", None, None, None)]  # fmt: skip
        for i, (kind, tag, goal, note_text) in enumerate(marks):
            await save_annotation(
                session, vid,
                AnnotationDraft(
                    "t_1", "therapist", tid, None, kind,
                    session_ms=60_000 + i * 90_000, recording_ms=60_000 + i * 90_000,
                    recording_id=rid, at=at + timedelta(seconds=60 + i * 90), text=note_text,
                    tag=tag, goal_id=goal,
                    image=b"\xff\xd8\xff\xe0fake-jpeg" if kind == "snapshot" else None,
                ),
                world.actor,
            )  # fmt: skip
        end = at + timedelta(minutes=46)
        await apply_recording_update(
            session, vid, RecordingUpdate(rid, "stopped", end, 2_700_000, f"user:{tid}", ()),
            world.actor,
        )  # fmt: skip
        f = await register_recording_file(session, vid, rid, "t_1", "rec/t_1.webm", at,
                                          world.actor)  # fmt: skip
        await finish_recording_file(
            session, f.id, status="finalized", sha256="ab" * 32, duration_ms=2_700_000,
            actor=world.actor,
        )  # fmt: skip
        await set_state(session, vid, VideoSessionState.ended)
        video.ended_at = end
        return HeldSession(appt, video.id, rid)


def build_held_world(database_url: str) -> tuple[DocWorld, HeldSession]:
    """A therapist's world with one held telehealth session, from synchronous test code."""

    async def run() -> tuple[DocWorld, HeldSession]:
        async with open_world(database_url) as world:
            return world, await held_telehealth_session(world)

    return asyncio.run(run())
