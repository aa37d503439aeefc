"""Which one-tap tags count toward which goal: the therapist's tag set per goal of a client.

Tags are stored per client (`annotation_tags`) with the goal's **lineage id**, so a tag set
outlives a re-evaluation: the call shows it under whatever version of the goal is active. The
tag labels are what the note's tally reads (observation.tally, drafting._measure): the trial tags
count trials, the prompt levels count prompts, and any tag on a frequency goal counts a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import AnnotationTag, Client, Goal, VideoSession
from server.services.audit import Actor
from server.services.documentation.plans import active_plan, goals_by_reference
from signaling.ports import TagOption

from .annotations import DEFAULT_TAGS, set_client_tags
from .common import SessionNotFound, parse_id

# The plan's own measures, as tag groups a therapist picks per goal.
TAG_GROUPS: dict[str, tuple[str, ...]] = {
    "Trials": ("trial success", "trial fail"),
    "Prompt level": ("independent", "verbal cue", "visual cue", "hand-over-hand"),
    "Frequency": ("occurrence",),
    "Duration": ("start", "stop"),
}
# What a goal starts with before the therapist chooses, by how the goal is measured.
SUGGESTED: dict[str, tuple[str, ...]] = {
    "percent_trials": TAG_GROUPS["Trials"],
    "assistance": TAG_GROUPS["Prompt level"],
    "frequency": TAG_GROUPS["Frequency"],
    "duration": TAG_GROUPS["Duration"],
}
MAX_CUSTOM = 8


@dataclass(frozen=True)
class GoalTagSet:
    goal: Goal
    tags: tuple[str, ...]
    suggested: bool  # nothing chosen yet: the tags shown are the measure's suggestion


@dataclass(frozen=True)
class TagPlan:
    goals: tuple[GoalTagSet, ...]
    plain: tuple[str, ...]  # tags tied to no goal (the defaults when nothing is set)


async def _stored(session: AsyncSession, client_id: uuid.UUID) -> list[AnnotationTag]:
    rows = await session.scalars(
        select(AnnotationTag)
        .where(AnnotationTag.client_id == client_id)
        .order_by(AnnotationTag.position, AnnotationTag.label)
    )
    return list(rows)


def _active_goals(goals: Sequence[Goal]) -> list[Goal]:
    return [g for g in goals if g.status == "active"]


def _goal_of(goal_id: str | None, goals: Sequence[Goal]) -> Goal | None:
    for goal in goals:
        if goal_id in (str(goal.id), str(goal.lineage_id)):
            return goal
    return None


async def tag_plan(session: AsyncSession, client: Client) -> TagPlan:
    """What the tag page shows: each active goal's tags (or its suggestion) and the plain ones."""
    plan = await active_plan(session, client.id)
    goals = _active_goals(plan.goals) if plan else []
    rows = await _stored(session, client.id)
    sets = []
    for goal in goals:
        mine = tuple(r.label for r in rows if _goal_of(r.goal_id, [goal]) is goal)
        sets.append(GoalTagSet(goal, mine or SUGGESTED.get(goal.measure, ()), not rows))
    plain = tuple(r.label for r in rows if r.goal_id is None)
    return TagPlan(tuple(sets), plain if rows else tuple(t.label for t in DEFAULT_TAGS))


async def save_tag_plan(
    session: AsyncSession,
    client: Client,
    per_goal: Mapping[str, Sequence[str]],
    plain: Sequence[str],
    actor: Actor,
) -> list[TagOption]:
    """Replaces the client's tags: `per_goal` by goal id (any version's id or the lineage id)."""
    plan = await active_plan(session, client.id)
    goals = plan.goals if plan else []
    tags: list[TagOption] = []
    for goal_id, labels in per_goal.items():
        goal = _goal_of(goal_id, goals)
        if goal is not None:
            tags += [TagOption(label, str(goal.lineage_id)) for label in labels]
    tags += [TagOption(label) for label in plain]
    return await set_client_tags(session, client, tags, actor)


async def tags_for_session(session: AsyncSession, session_id: str) -> list[TagOption]:
    video = await session.get(VideoSession, parse_id(session_id))
    if video is None:
        raise SessionNotFound()
    if video.client_id is None:
        return list(DEFAULT_TAGS)
    return await call_tags(session, video.client_id)


async def cues_for_session(session: AsyncSession, session_id: str) -> list[str]:
    """The plan's own coaching cues for the session's client (empty: the call's defaults)."""
    video = await session.get(VideoSession, parse_id(session_id))
    if video is None:
        raise SessionNotFound()
    plan = await active_plan(session, video.client_id) if video.client_id else None
    return [str(c) for c in plan.coaching_cues] if plan else []


async def call_tags(session: AsyncSession, client_id: uuid.UUID) -> list[TagOption]:
    """The call's tag list: goal tags first, in the plan's goal order, each with its goal's
    short name; then the plain tags. Tags of goals no longer active are left out; a goal id
    that names no goal of the client (an opaque id from before plans existed) passes as it is."""
    rows = await _stored(session, client_id)
    if not rows:
        return list(DEFAULT_TAGS)
    plan = await active_plan(session, client_id)
    active = _active_goals(plan.goals) if plan else []
    refs = await goals_by_reference(session, client_id)
    grouped: list[TagOption] = []
    for goal in active:
        lineage = str(goal.lineage_id)
        grouped += [
            TagOption(r.label, lineage, goal.label)
            for r in rows
            if r.goal_id and str(getattr(refs.get(r.goal_id), "lineage_id", "")) == lineage
        ]
    opaque = [TagOption(r.label, r.goal_id) for r in rows if r.goal_id and r.goal_id not in refs]
    plain = [TagOption(r.label) for r in rows if r.goal_id is None]
    return grouped + opaque + plain
