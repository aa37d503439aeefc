"""`tandem demo` seeds plans of care and a completed telehealth visit with a draft note."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.demo import DEMO_EMAIL, seed_demo
from server.models import Client, Note, PlanOfCare, User, VideoSession
from server.services.audit import Actor
from server.services.documentation.demo_seed import DEMO_TITLE
from server.services.documentation.notes import NoteEdit, note_verifies, sign_note, update_note
from server.services.video.goal_tags import call_tags


def test_demo_documentation_is_seeded_idempotently(settings: Settings) -> None:
    async def run() -> None:
        await seed_demo(settings, "http://127.0.0.1:8000")
        info = await seed_demo(settings, "http://127.0.0.1:8000")
        assert any("/notes/" in line and "draft" in line for line in info.extra_lines)
        engine = make_engine(settings.database_url)
        db = make_sessionmaker(engine)
        try:
            async with transaction(db) as session:
                therapist = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
                assert therapist is not None
                clients = list(
                    await session.scalars(select(Client).where(Client.therapist_id == therapist.id))
                )
                plans = list(
                    await session.scalars(
                        select(PlanOfCare).where(
                            PlanOfCare.therapist_id == therapist.id, PlanOfCare.status == "active"
                        )
                    )
                )
                assert len(plans) == len(clients) == 4
                assert all(p.goals for p in plans)
                # The demo call shows Maya's goals with the tags their measures suggest.
                maya = next(c for c in clients if c.first_name == "Maya")
                tags = {(t.goal_name, t.label) for t in await call_tags(session, maya.id)}
                assert {("grasp", "trial success"), ("buttons", "start")} <= tags
                videos = await session.scalar(
                    select(func.count(VideoSession.id)).where(VideoSession.title == DEMO_TITLE)
                )
                assert videos == 1
                # The billing demo adds signed notes of its own (charged visits, no session).
                notes = list(
                    await session.scalars(
                        select(Note).where(
                            Note.author_id == therapist.id, Note.video_session_id.is_not(None)
                        )
                    )
                )
                assert len(notes) == 1
                note = notes[0]
                assert (note.status, note.mode, note.appointment_id is not None) == (
                    "draft",
                    "telehealth",
                    True,
                )
                names = [p["name"] for p in note.session_facts["participants"]]
                assert names == [therapist.name, "Ada Okafor"]
                assert note.objective.startswith(
                    "Goal 1, grasp: 7 of 10 trials independent (70%); verbal cue 3"
                )
                actor = Actor("user", str(therapist.id))
                await update_note(session, therapist, note, NoteEdit(plan="Continue."), actor)
                await sign_note(session, therapist, note, actor)
                note_id = note.id
            # A signed demo note survives the next run (its visit row is rebuilt and relinked).
            info = await seed_demo(settings, "http://127.0.0.1:8000")
            assert any("(signed)" in line for line in info.extra_lines)
            async with db() as session:
                again = await session.get(Note, note_id)
                assert again is not None
                assert again.appointment_id is not None
                assert note_verifies(again, [])
        finally:
            await engine.dispose()

    asyncio.run(run())
