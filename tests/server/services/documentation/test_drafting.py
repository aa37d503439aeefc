"""A telehealth visit's note is drafted from its stored session record (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from doc_world import T0, DocWorld, held_telehealth_session
from sqlalchemy import select

from server.db import transaction
from server.models import Appointment, AuditEntry
from server.services.documentation.chart import add_consent
from server.services.documentation.common import ValidationFailed
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note
from server.services.documentation.progress import chart, goal_values


async def test_the_draft_holds_what_happened_in_the_session(world: DocWorld) -> None:
    held = await held_telehealth_session(world)
    async with transaction(world.db) as session:
        await add_consent(
            session, world.therapist, world.client, "telehealth", "Ada Okafor",
            (T0 - timedelta(days=30)).date(), world.actor,
        )  # fmt: skip
        appt = await session.get(Appointment, held.appointment.id)
        assert appt is not None
        note = await draft_note(session, world.therapist, appt, world.actor)
        again = await draft_note(session, world.therapist, appt, world.actor)
    assert again.id == note.id  # one note per visit
    facts = note.session_facts
    assert note.video_session_id == held.video_id
    assert (note.mode, note.modality, note.client_location_state) == ("telehealth", "video", "IL")
    assert note.telehealth_consent is True
    # Participants and their real presence (the parent dropped out for two minutes).
    assert [(p["name"], p["role"], p["present_minutes"]) for p in facts["participants"]] == [
        ("Jordan Avery", "therapist", 46),
        ("Ada Okafor", "parent", 43),
    ]
    assert note.present == "Jordan Avery (therapist, 46 min); Ada Okafor (parent, 43 min)"
    assert facts["duration_minutes"] == 46
    assert note.time_in == T0 + timedelta(minutes=1)
    assert note.time_out == T0 + timedelta(minutes=47)
    # Every annotation, in order, each opening the recording at its moment.
    kinds = [a["kind"] for a in facts["annotations"]]
    assert kinds == ["tag"] * 13 + ["note", "snapshot"]
    assert facts["annotations"][0]["goal"] == "Goal 1, grasp"
    assert facts["annotations"][1]["playback"] == f"/sessions/{held.video_id}/playback?t=150"
    assert facts["annotations"][14]["snapshot"].endswith("/snapshot")
    assert facts["snapshots"] == 1
    assert facts["recordings"][0]["id"] == held.recording_id
    assert facts["recordings"][0]["files"][0]["sha256"] == "ab" * 32
    assert facts["recordings"][0]["playback"] == f"/sessions/{held.video_id}/playback?t=0"
    # Goal tallies became objective measures.
    lines = note.objective.splitlines()
    assert lines[0] == "Goal 1, grasp: 7 of 10 trials independent (70%); verbal cue 3"
    assert lines[1] == "Goal 2, buttons: 2 of 3 trials successful (67%)"
    # A percentage is charted for the percent-of-trials goal only; buttons is timed (seconds).
    assert "- Used tripod grasp after a model." in lines
    assert [(m["number"], m["value"], m["unit"]) for m in note.measures] == [
        (1, 70, "%"),
        (2, None, "seconds"),
    ]
    async with world.db() as session:
        actions = set(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(held.video_id))
            )
        )
    assert {"observation_summary.read", "annotation.read", "recording.read"} <= actions


async def test_measures_from_signed_notes_feed_the_goal_chart(world: DocWorld) -> None:
    held = await held_telehealth_session(world)
    async with transaction(world.db) as session:
        appt = await session.get(Appointment, held.appointment.id)
        assert appt is not None
        note = await draft_note(session, world.therapist, appt, world.actor)
        await update_note(
            session, world.therapist, note,
            NoteEdit(assessment="Emerging.", measures={str(world.plan.goals[1].id): "95"}),
            world.actor,
        )  # fmt: skip
        await sign_note(session, world.therapist, note, world.actor, now=T0 + timedelta(hours=1))
    goal = world.plan.goals[0]
    points = goal_values(goal, [note])
    assert [(p.value, p.signed) for p in points] == [(70.0, True)]
    drawn = chart(goal, points)
    # Higher values sit higher: target (80) above the point (70) above the baseline (20).
    assert drawn.target_y < drawn.points[0].y < drawn.baseline_y
    # The timed goal got its value from the therapist: 95 s, between baseline 120 and target 45.
    timed = goal_values(world.plan.goals[1], [note])
    assert [p.value for p in timed] == [95.0]


async def test_an_in_person_note_offers_every_plan_goal(world: DocWorld) -> None:
    appt = await world.visit(T0)
    async with transaction(world.db) as session:
        row = await session.get(Appointment, appt.id)
        assert row is not None
        note = await draft_note(session, world.therapist, row, world.actor)
        assert note.session_facts == {}
        assert [(m["label"], m["value"]) for m in note.measures] == [
            ("grasp", None),
            ("buttons", None),
        ]
        with pytest.raises(ValidationFailed):
            await update_note(
                session, world.therapist, note,
                NoteEdit(measures={str(world.plan.goals[0].id): "lots"}), world.actor,
            )  # fmt: skip
        await update_note(
            session, world.therapist, note,
            NoteEdit(measures={str(world.plan.goals[0].id): "55"}), world.actor,
        )  # fmt: skip
    assert [m["value"] for m in note.measures] == [55.0, None]
