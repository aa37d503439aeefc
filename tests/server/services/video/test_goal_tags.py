"""A client's tags per goal reach the call and count toward the goals (both databases)."""

from __future__ import annotations

from datetime import timedelta

from doc_world import T0, DocWorld
from sqlalchemy import select

from server.db import transaction
from server.models import Annotation, AuditEntry, Goal
from server.services.documentation.drafting import _measure
from server.services.video.annotations import DEFAULT_TAGS, save_annotation
from server.services.video.goal_tags import (
    call_tags,
    save_tag_plan,
    tag_plan,
    tags_for_session,
)
from server.services.video.observation import tally
from server.services.video.sessions import start_session
from signaling.ports import AnnotationDraft, AnnotationKind, TagOption


async def test_before_any_choice_each_goal_suggests_tags_by_its_measure(world: DocWorld) -> None:
    async with transaction(world.db) as session:
        plan = await tag_plan(session, world.client)
        tags = await call_tags(session, world.client.id)
    grasp, buttons = plan.goals
    assert (grasp.goal.label, grasp.tags, grasp.suggested) == (
        "grasp",
        ("trial success", "trial fail"),
        True,
    )
    assert buttons.tags == ("start", "stop")  # a timed goal is timed with a pair of tags
    assert plan.plain == tuple(t.label for t in DEFAULT_TAGS)
    assert tags == list(DEFAULT_TAGS)  # nothing saved: the call keeps the plain defaults


async def test_saved_tags_reach_the_call_grouped_by_goal(world: DocWorld) -> None:
    grasp, buttons = world.plan.goals
    async with transaction(world.db) as session:
        await save_tag_plan(
            session,
            world.client,
            {
                str(buttons.id): ["independent", "verbal cue"],
                str(grasp.lineage_id): ["trial success", "trial fail", "independent"],
            },
            ["wave", " wave "],
            world.actor,
        )
        video = await start_session(
            session, world.therapist, world.actor, title="Maya OT", client=world.client
        )
    async with transaction(world.db) as session:
        tags = await tags_for_session(session, str(video.id))
        plan = await tag_plan(session, world.client)
        audit = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(world.client.id))
            )
        )
    g1, g2 = str(grasp.lineage_id), str(buttons.lineage_id)
    # Plan order, not the order they were sent in; the same label counts for two goals.
    assert tags == [
        TagOption("trial success", g1, "grasp"),
        TagOption("trial fail", g1, "grasp"),
        TagOption("independent", g1, "grasp"),
        TagOption("independent", g2, "buttons"),
        TagOption("verbal cue", g2, "buttons"),
        TagOption("wave"),
    ]
    assert [s.tags for s in plan.goals] == [
        ("trial success", "trial fail", "independent"),
        ("independent", "verbal cue"),
    ]
    assert not plan.goals[0].suggested
    assert plan.plain == ("wave",)
    assert "annotation.tags_set" in audit


async def test_a_goal_no_longer_active_drops_out_of_the_call(world: DocWorld) -> None:
    grasp, buttons = world.plan.goals
    async with transaction(world.db) as session:
        await save_tag_plan(
            session,
            world.client,
            {str(grasp.id): ["trial success"], str(buttons.id): ["independent"]},
            [],
            world.actor,
        )
        row = await session.get(Goal, buttons.id)
        assert row is not None
        row.status = "met"
    async with transaction(world.db) as session:
        tags = await call_tags(session, world.client.id)
    assert tags == [TagOption("trial success", str(grasp.lineage_id), "grasp")]


def _draft(kind: AnnotationKind, ref: str, i: int, **kw: object) -> AnnotationDraft:
    return AnnotationDraft(
        "t_1", "therapist", None, None, kind, session_ms=i * 1000, recording_ms=None,
        recording_id=None, at=T0 + timedelta(seconds=i), client_ref=ref, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_an_undone_tag_leaves_the_tally_but_stays_on_record(world: DocWorld) -> None:
    grasp = str(world.plan.goals[0].lineage_id)
    async with transaction(world.db) as session:
        video = await start_session(
            session, world.therapist, world.actor, title="Maya OT", client=world.client
        )
        vid = str(video.id)
        marks = [("trial success", "a1"), ("trial fail", "a2"), ("trial success", "a3")]
        for i, (tag, ref) in enumerate(marks):
            await save_annotation(
                session, vid, _draft("tag", ref, i, tag=tag, goal_id=grasp), world.actor
            )
        await save_annotation(
            session, vid, _draft("undo", "a4", 9, payload={"undoes": "a2"}), world.actor
        )
        rows = list(
            await session.scalars(select(Annotation).where(Annotation.session_id == video.id))
        )
    counts, goals = tally(rows)
    assert len(rows) == 4
    assert counts == (("trial success", 2),)
    [goal] = goals
    assert (goal.goal_id, goal.successes, goal.trials) == (grasp, 2, 2)


def test_a_duration_goal_charts_the_time_from_start_to_stop() -> None:
    goal = Goal(number=2, label="buttons", measure="duration", unit="seconds")
    marks = [("start", 10_000), ("stop", 55_000), ("start", 60_000), ("stop", 110_000),
             ("start", 120_000)]  # fmt: skip
    rows = [
        Annotation(
            kind="tag",
            tag=tag,
            goal_id="g",
            author_participant_id="t_1",
            client_ref=f"r{i}",
            session_ms=ms,
        )
        for i, (tag, ms) in enumerate(marks)
    ]
    _, [per_goal] = tally(list(reversed(rows)))  # in any order: timed by the session clock
    measure = _measure(goal, per_goal)
    assert (measure["value"], measure["unit"], measure["text"]) == (
        95,
        "seconds",
        "Goal 2, buttons: 95 seconds timed",
    )


def test_a_frequency_goal_charts_the_number_of_tags() -> None:
    goal = Goal(number=3, label="requests", measure="frequency", unit="times")
    rows = [
        Annotation(
            kind="tag",
            tag="occurrence",
            goal_id="g",
            author_participant_id="t_1",
            client_ref=f"r{i}",
            session_ms=i,
        )
        for i in range(4)
    ]
    _, [per_goal] = tally(rows)
    measure = _measure(goal, per_goal)
    assert (measure["value"], measure["unit"], measure["text"]) == (
        4,
        "times",
        "Goal 3, requests: 4 times",
    )
