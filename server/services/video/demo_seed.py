"""A demo video session, ready when `tandem demo` starts: a parent link and an observer link."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import utcnow
from server.models import Client, User, VideoSession, VideoSessionState
from server.services.audit import Actor
from signaling.tokens import TokenSigner

from .goal_tags import save_tag_plan, tag_plan
from .sessions import issue_link, link_token, list_links, start_session

DEMO_TITLE = "Demo: parent coaching with Maya"


async def seed_video_demo(
    session: AsyncSession, therapist: User, settings: Settings, base_url: str
) -> list[str]:
    signer = TokenSigner(settings.secret_key)
    now = utcnow()
    video = await session.scalar(
        select(VideoSession)
        .where(
            VideoSession.therapist_id == therapist.id,
            VideoSession.title == DEMO_TITLE,
            VideoSession.state != VideoSessionState.ended,
            VideoSession.planned_end > now + timedelta(hours=1),
        )
        .order_by(VideoSession.created_at.desc())
    )
    actor = Actor("system", None, "demo-seed")
    grace = timedelta(minutes=settings.join_link_grace_minutes)
    if video is None:
        client = await session.scalar(
            select(Client).where(Client.therapist_id == therapist.id, Client.first_name == "Maya")
        )
        # Long enough that the printed links stay valid for an afternoon of trying things.
        video = await start_session(
            session, therapist, actor, title=DEMO_TITLE, client=client,
            planned_start=now, planned_end=now + timedelta(hours=4),
        )  # fmt: skip
        await issue_link(
            session, signer, video, actor, role="parent", display_name="Ada Okafor", grace=grace
        )
        await issue_link(
            session, signer, video, actor, role="observer", display_name="Student observer",
            grace=grace,
        )  # fmt: skip
    await _seed_goal_tags(session, video, actor)
    links = {
        link.role: link for link in await list_links(session, video) if link.revoked_at is None
    }
    lines = [f"Demo video session: {base_url}/sessions/{video.id}/call (as the therapist)"]
    if "parent" in links:
        token = link_token(signer, links["parent"])
        lines.append(
            f"  parent link (open in another browser window): {base_url}/join/{video.id}/{token}"
        )
    if "observer" in links:
        token = link_token(signer, links["observer"])
        lines.append(f"  observer link: {base_url}/join/{video.id}/{token}")
    return lines


async def _seed_goal_tags(session: AsyncSession, video: VideoSession, actor: Actor) -> None:
    """Gives the demo client's goals the tags their measures suggest, once, so the demo call
    shows goal-linked tags; a therapist changes them at /clients/{id}/tags."""
    client = await session.get(Client, video.client_id) if video.client_id else None
    if client is None:
        return
    plan = await tag_plan(session, client)
    if not plan.goals or not all(tag_set.suggested for tag_set in plan.goals):
        return
    per_goal = {str(tag_set.goal.id): tag_set.tags for tag_set in plan.goals}
    await save_tag_plan(session, client, per_goal, plan.plain, actor)
