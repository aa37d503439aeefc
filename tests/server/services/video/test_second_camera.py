"""Second-camera links: bound to one participant, single-use, short-lived (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from doc_world import T0, DocWorld
from sqlalchemy import select

from server.db import transaction
from server.models import AuditEntry, SecondCameraLink
from server.services.errors import NotFound, Refused
from server.services.video.second_camera import (
    MAX_OPEN,
    TTL,
    CameraLinkGone,
    claim_camera_link,
    issue_camera_link,
    open_camera_link,
)
from server.services.video.sessions import start_session


async def test_a_link_works_once_for_its_participant_and_expires(world: DocWorld) -> None:
    async with transaction(world.db) as session:
        video = await start_session(session, world.therapist, world.actor, title="Maya OT")
        other = await start_session(session, world.therapist, world.actor, title="Other")
        sid = str(video.id)
        first = await issue_camera_link(session, sid, "p_ada", "link-1", world.actor, T0)
        late = await issue_camera_link(session, sid, "p_ada", "link-1", world.actor, T0)
    assert first.expires_at == T0 + TTL
    assert len(first.code) >= 12
    async with transaction(world.db) as session:
        stored = list(await session.scalars(select(SecondCameraLink.code_sha256)))
        assert first.code not in stored  # only a digest is kept
        assert (await open_camera_link(session, first.code, T0)).participant_id == "p_ada"
        with pytest.raises(NotFound):
            await open_camera_link(session, "no-such-code", T0)
        # Another session's join cannot spend it.
        assert await claim_camera_link(session, str(other.id), first.code, world.actor, T0) is None
        at = T0 + timedelta(minutes=1)
        assert await claim_camera_link(session, sid, first.code, world.actor, at) == "p_ada"
        assert await claim_camera_link(session, sid, first.code, world.actor, at) is None
        with pytest.raises(CameraLinkGone):
            await open_camera_link(session, first.code, at)
        expired = T0 + TTL + timedelta(seconds=1)
        assert await claim_camera_link(session, sid, late.code, world.actor, expired) is None
        with pytest.raises(CameraLinkGone):
            await open_camera_link(session, late.code, expired)
        outcomes = list(
            await session.scalars(
                select(AuditEntry.outcome).where(
                    AuditEntry.action == "second_camera.join",
                    AuditEntry.object_id.in_([sid, str(other.id)]),
                )
            )
        )
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]


async def test_a_participant_holds_a_few_open_links_at_most(world: DocWorld) -> None:
    async with transaction(world.db) as session:
        video = await start_session(session, world.therapist, world.actor, title="Maya OT")
        sid = str(video.id)
        codes = [
            (await issue_camera_link(session, sid, "p_ada", "l-1", world.actor, T0)).code
            for _ in range(MAX_OPEN)
        ]
        with pytest.raises(Refused):
            await issue_camera_link(session, sid, "p_ada", "l-1", world.actor, T0)
        # Someone else's, a used one, or time passing frees room again.
        await issue_camera_link(session, sid, "p_bo", "l-2", world.actor, T0)
        assert await claim_camera_link(session, sid, codes[0], world.actor, T0) == "p_ada"
        await issue_camera_link(session, sid, "p_ada", "l-1", world.actor, T0)
        later = T0 + TTL
        await issue_camera_link(session, sid, "p_ada", "l-1", world.actor, later)
