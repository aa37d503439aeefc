"""The chat and the tags of a call outlive the host that saw them: a new host over the same
database (a restart, a node taking the session over) replays them as the first one did, with
the same rules for who is shown what (both backends)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from practice import add_account
from signaling_fakes import (
    SAID,
    SECRET,
    Client,
    FakeRelay,
    chat_tags_and_cue,
    make_router,
    replayed,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import AuditEntry
from server.services.audit import Actor
from server.services.video.sessions import issue_link, start_session
from server.video.backend import DatabaseSessionBackend
from signaling.local_router import LocalRouter
from signaling.ports import AnnotationDraft, TherapistIdentity
from signaling.tokens import TokenSigner


@dataclass
class World:
    db: async_sessionmaker[AsyncSession]
    session_id: str
    therapist: TherapistIdentity
    links: dict[str, str]  # role -> join token

    def host(self) -> LocalRouter:
        """A process of its own: a router, a relay and a backend that know nothing of earlier
        hosts; only the database is shared."""
        return make_router(DatabaseSessionBackend(self.db), FakeRelay())


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    engine = make_engine(settings.database_url)
    db = make_sessionmaker(engine)
    async with transaction(db) as session:
        user = await add_account(session, "Dr. Replay")
        actor = Actor("user", str(user.id))
        video = await start_session(session, user, actor, title="Replay")
        links = {}
        for role, name in (("parent", "Pat Parent"), ("observer", "Olive Observer")):
            issued = await issue_link(
                session,
                TokenSigner(SECRET),
                video,
                actor,
                role="parent" if role == "parent" else "observer",
                display_name=name,
                grace=timedelta(minutes=30),
            )
            links[role] = issued.token
    yield World(db, str(video.id), TherapistIdentity(str(user.id), "Dr. Replay"), links)
    await engine.dispose()


async def enter_all(
    world: World, router: LocalRouter, pages: dict[str, Client], credentials: dict[str, str]
) -> dict[str, Client]:
    """Every page of the call loads again (a reload, or the reconnect after a restart)."""
    again = {"therapist": Client(router, world.session_id, world.therapist)}
    await again["therapist"].join()
    for role in ("parent", "observer"):
        again[role] = Client(router, world.session_id, client_id=pages[role].client_id)
        await again[role].join(token=world.links[role], rejoin=credentials[role])
        assert again[role].conn.last("welcome")["lobby"] is False
    return again


async def test_after_a_restart_the_chat_and_tags_are_replayed_from_the_database(
    world: World,
) -> None:
    router = world.host()
    pages = {"therapist": Client(router, world.session_id, world.therapist)}
    await pages["therapist"].join()
    for role in ("parent", "observer"):
        pages[role] = Client(router, world.session_id)
        await pages[role].join(token=world.links[role])
        await pages["therapist"].send(type="admit", participant_id=pages[role].participant_id)
    credentials = {
        role: pages[role].conn.last("admitted")["rejoin"] for role in ("parent", "observer")
    }
    therapist, parent, observer = pages["therapist"], pages["parent"], pages["observer"]
    await chat_tags_and_cue(therapist, parent, observer)

    before = {
        role: replayed(page)
        for role, page in (await enter_all(world, router, pages, credentials)).items()
    }
    await router.close()

    after = {
        role: replayed(page)
        for role, page in (await enter_all(world, world.host(), pages, credentials)).items()
    }

    assert after == before
    chat = after["parent"]["chat"]
    assert [(m["author_id"], m["name"], m["role"], m["text"]) for m in chat] == [
        (therapist.participant_id, "Dr. Replay", "therapist", SAID[0]),
        (parent.participant_id, "Pat Parent", "parent", SAID[1]),
        (observer.participant_id, "Olive Observer", "observer", SAID[2]),
    ]
    # The tally and the undo go to the therapist only; a cue is shown live, never replayed.
    tags = after["therapist"]["tags"]
    assert [(i["client_ref"], i["kind"], i["tag"], i["goal_id"], i["undo_ref"]) for i in tags] == [
        ("t1", "tag", "trial success", "g-grasp", None),
        ("t2", "tag", "trial fail", "g-grasp", None),
        ("t3", "undo", None, None, "t2"),
    ]
    assert (after["parent"]["tags"], after["observer"]["tags"]) == (None, None)
    assert all(a["cues"] == [] for a in after.values())
    # Reading the record back is audited, as the signaling's read.
    async with world.db() as session:
        reads = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "annotation.read",
                    AuditEntry.object_id == world.session_id,
                )
            )
        )
    assert reads
    assert {(r.actor_type, r.detail["for"], r.detail["chat"], r.detail["tags"]) for r in reads} == {
        ("system", "call_history", 3, 3)
    }


async def test_the_record_gives_back_the_latest_entries_oldest_first(world: World) -> None:
    backend = DatabaseSessionBackend(world.db)
    t0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    for n in range(6):
        for kind in ("chat", "tag"):
            draft = AnnotationDraft(
                author_participant_id="p_1",
                author_role="parent",
                author_user_id=None,
                author_link_id=None,
                kind=kind,
                session_ms=1000 * n,
                recording_ms=None,
                recording_id=None,
                at=t0 + timedelta(seconds=n),
                text=f"said {n}" if kind == "chat" else None,
                tag="independent" if kind == "tag" else None,
                client_ref=f"{kind}-{n}",
            )
            await backend.save_annotation(world.session_id, draft)
    # A tag without the author's reference is not one a host keeps (a host never made one).
    await backend.save_annotation(
        world.session_id,
        replace(draft, client_ref=None, session_ms=9000),
    )

    history = await backend.call_history(world.session_id, 4, 2)
    assert [m.text for m in history.chat] == ["said 2", "said 3", "said 4", "said 5"]
    assert [m.at for m in history.chat] == [t0 + timedelta(seconds=n) for n in (2, 3, 4, 5)]
    assert {m.name for m in history.chat} == {"Parent"}  # never in the room: named by role
    assert [t.client_ref for t in history.tagged] == ["tag-4", "tag-5"]
    empty = await backend.call_history(str(uuid.uuid4()), 4, 2)
    assert (list(empty.chat), list(empty.tagged)) == ([], [])
