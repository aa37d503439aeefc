"""Recording consent and annotations over real sockets against a real Tandem process.

The process records for real (its files are test_recording_live.py's subject); these tests look
at the consent flow, the clocks, the acks and the database rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from live import TEST_PASSWORD, LiveServer, serving_with_account
from live_call import LiveCall, new_call
from protocol_client import ProtocolClient, login
from sqlalchemy import select

from server.db import make_engine, make_sessionmaker
from server.models import Annotation, AuditEntry, Recording, RecordingConsent, RecordingSpan

EMAIL = "hooks-live@example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_with_account(tmp_path_factory.mktemp("hooks-live"), EMAIL) as live:
        yield live


@pytest.fixture
def started(server: LiveServer) -> LiveCall:
    """A started session; plain HTTP, so not on the event loop."""
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    try:
        return new_call(http, server.base_url, "Hooks live")
    finally:
        http.close()


@pytest.fixture
async def call(started: LiveCall) -> AsyncIterator[tuple[ProtocolClient, ProtocolClient, str]]:
    try:
        await started.start()
        yield started.therapist, started.parent, started.session_id
    finally:
        await started.close()


def state_is(state: str) -> Any:
    return lambda m: m["state"] == state


async def annotate(client: ProtocolClient, ref: str, **fields: Any) -> dict[str, Any]:
    await client.send({"client_ref": ref, **fields})
    ack = await client.expect("annotation_saved")
    assert ack["client_ref"] == ref
    return ack


async def test_consent_then_annotations_with_session_and_recording_clocks(
    call: tuple[ProtocolClient, ProtocolClient, str], server: LiveServer
) -> None:
    therapist, parent, session_id = call
    settings = await parent.expect("annotation_settings")
    assert "trial success" in [t["label"] for t in settings["tags"]]
    assert therapist.participant_id
    assert parent.participant_id
    await therapist.wait_media_from(parent.participant_id, frames=10)

    await therapist.send({"type": "record", "action": "request"})
    prompt = await parent.expect("consent_request")
    assert "What is recorded" in prompt["text"]
    waiting = await therapist.expect_matching("recording", state_is("awaiting_consent"))
    assert waiting["pending"] == [parent.participant_id]
    await parent.send({"type": "consent", "request_id": prompt["request_id"], "accept": True})
    await parent.expect_matching("recording", state_is("recording"))
    await therapist.expect_matching("recording", state_is("recording"))

    first = await annotate(therapist, "n1", type="tag", tag="trial success", goal_id="grasp")
    assert first["recording_ms"] is not None
    assert 0 <= first["recording_ms"] <= first["session_ms"]

    await therapist.send({"type": "record", "action": "pause"})
    await therapist.expect_matching("recording", state_is("paused"))
    during = await annotate(therapist, "n2", type="note", text="paused here")
    assert during["recording_ms"] is None
    await asyncio.sleep(1.0)
    await therapist.send({"type": "record", "action": "resume"})
    await therapist.expect_matching("recording", state_is("recording"))
    after = await annotate(therapist, "n3", type="tag", tag="trial fail", goal_id="grasp")
    # The pause (at least the second slept through) is on the session clock, not the recording's.
    session_gap = after["session_ms"] - first["session_ms"]
    recording_gap = after["recording_ms"] - first["recording_ms"]
    assert session_gap - recording_gap >= 1000
    assert recording_gap >= 0

    pid = parent.participant_id
    square = {"kind": "rect", "points": [[0.2, 0.2], [0.6, 0.7]]}
    await therapist.send(
        {"type": "draw", "client_ref": "d1", "target": pid, "show_to": [pid],
         "color": "#ff8800", "shapes": [square]}
    )  # fmt: skip
    drawn = await parent.expect("drawing")
    assert drawn["shapes"][0]["points"] == square["points"]
    await therapist.expect("annotation_saved")

    # Acked means committed: the rows are in the database the server uses.
    engine = make_engine(server.env["TANDEM_DATABASE_URL"])
    try:
        async with make_sessionmaker(engine)() as session:
            sid = uuid.UUID(session_id)
            notes = list(
                await session.scalars(select(Annotation).where(Annotation.session_id == sid))
            )
            consents = list(
                await session.scalars(
                    select(RecordingConsent)
                    .where(RecordingConsent.session_id == sid)
                    .order_by(RecordingConsent.decided_at)
                )
            )
            spans = list(
                await session.scalars(
                    select(RecordingSpan)
                    .join(Recording, Recording.id == RecordingSpan.recording_id)
                    .where(Recording.session_id == sid)
                )
            )
            trail = list(
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.object_id == session_id)
                )
            )
    finally:
        await engine.dispose()
    by_id = {str(a.id): a for a in notes}
    assert by_id[first["annotation_id"]].recording_ms == first["recording_ms"]
    assert by_id[after["annotation_id"]].session_ms == after["session_ms"]
    assert {a.kind for a in notes} == {"tag", "note", "drawing"}
    assert [(c.role, c.accepted) for c in consents] == [("therapist", True), ("parent", True)]
    assert consents[1].text == prompt["text"]
    assert any(s.ended_at is not None for s in spans)
    assert "recording.consent" in trail
    assert "annotation.drawing" in trail


async def test_a_parent_cannot_record_or_annotate(
    call: tuple[ProtocolClient, ProtocolClient, str],
) -> None:
    _, parent, _ = call
    await parent.send({"type": "record", "action": "request"})
    assert (await parent.expect("error"))["code"] == "forbidden"
    await parent.send({"type": "note", "client_ref": "p1", "text": "hi"})
    assert (await parent.expect("error"))["code"] == "forbidden"
