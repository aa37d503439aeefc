"""The note drafted from a session reports its coaching: cues given and the tags that followed."""

from __future__ import annotations

from datetime import timedelta

from doc_world import T0, DocWorld, held_telehealth_session

from server.db import transaction
from server.models import Appointment
from server.services.documentation.drafting import draft_note
from server.services.video.annotations import save_annotation
from signaling.ports import AnnotationDraft


async def test_the_draft_counts_cues_and_the_tags_that_followed(world: DocWorld) -> None:
    held = await held_telehealth_session(world)
    # The held session's tags fall at 60 s, 150 s, 240 s, ... of the session.
    said = [
        ("cue", "wait 5 seconds", None, 100_000),
        ("cue", "offer a choice", "car or ball?", 230_000),
        ("chat", None, "https://example.org/schedule", 300_000),
    ]
    async with transaction(world.db) as session:
        for i, (kind, cue, text, ms) in enumerate(said):
            await save_annotation(
                session, str(held.video_id),
                AnnotationDraft(
                    "t_1", "therapist", str(world.therapist.id), None, kind,  # type: ignore[arg-type]
                    session_ms=ms, recording_ms=None, recording_id=None,
                    at=T0 + timedelta(milliseconds=ms), tag=cue, text=text, client_ref=f"c{i}",
                ),
                world.actor,
            )  # fmt: skip
        appt = await session.get(Appointment, held.appointment.id)
        assert appt is not None
        note = await draft_note(session, world.therapist, appt, world.actor)
    coaching = note.session_facts["coaching"]
    assert coaching["cues"] == [["offer a choice", 1], ["wait 5 seconds", 1]]
    assert coaching["followed"] == 2  # the tags at 150 s and 240 s
    assert (
        "Parent coaching: 2 cue(s) given (offer a choice 1, wait 5 seconds 1); 2 tag(s) of the"
        " parent's strategy followed within 60 s of a cue."
    ) in note.objective.splitlines()
    assert note.session_facts["chat"] == [
        {"author": "therapist", "text": "https://example.org/schedule", "session_ms": 300_000}
    ]
