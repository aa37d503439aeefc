"""A progress note drafted from a real telehealth session: the visit is started from its
appointment, aiortc participants speak the protocol to a real Tandem process, the therapist tags
trials against plan-of-care goals, and the draft carries what really happened."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from doc_world import DocWorld, open_world
from live import LiveServer, prepare_environment, serving
from live_call import join_and_admit
from protocol_client import ProtocolClient, confirm_location, csrf_token, login

from server.config import load_settings
from server.db import utcnow
from server.models import Appointment

PASSWORD = "correct-horse-1"


@pytest.fixture
def world_server(tmp_path: Path) -> Iterator[tuple[LiveServer, DocWorld, Appointment]]:
    env = prepare_environment(tmp_path)

    async def seed() -> tuple[DocWorld, Appointment]:
        async with open_world(load_settings(env, dotenv=None).database_url) as world:
            starts_at = utcnow() + timedelta(minutes=10)
            return world, await world.visit(starts_at, mode="telehealth", status="booked")

    world, visit = asyncio.run(seed())
    with serving(env, tmp_path) as server:
        yield server, world, visit


def prepare_visit(http: httpx.Client, appointment_id: str) -> tuple[str, str]:
    """License the therapist in Illinois, start the visit's session; returns (session, token)."""
    added = http.post(
        "/profile/licenses",
        data={"csrf_token": csrf_token(http, "/profile"), "kind": "license", "state": "IL",
              "number": "OT-7", "expires_on": "2031-01-01"},
    )  # fmt: skip
    assert added.status_code == 303, added.text
    page = f"/schedule/appointments/{appointment_id}"
    started = http.post(f"{page}/video", data={"csrf_token": csrf_token(http, page)})
    assert started.status_code == 303, started.text
    session_id = started.headers["location"].split("/")[2]
    appointment_page = http.get(page, headers={"accept": "text/html"}).text
    url = re.search(r'id="parent-url" class="join-url" readonly value="([^"]+)"', appointment_page)
    assert url
    return session_id, html.unescape(url.group(1)).rsplit("/", 1)[1]


async def test_note_is_drafted_from_the_live_session(
    world_server: tuple[LiveServer, DocWorld, Appointment],
) -> None:
    server, world, visit = world_server
    goal1, goal2 = (str(g.id) for g in world.plan.goals)
    http = await asyncio.to_thread(login, server.base_url, world.therapist.email, PASSWORD)
    session_id, token = await asyncio.to_thread(prepare_visit, http, str(visit.id))
    await asyncio.to_thread(confirm_location, server.base_url, session_id, token, "IL")
    therapist = ProtocolClient(server.base_url, session_id, cookie=http.cookies["tandem_session"])
    parent = ProtocolClient(server.base_url, session_id, token=token, tone_hz=660)
    try:
        await join_and_admit(therapist, parent)
        await therapist.wait_media_from(parent.participant_id or "", frames=10)

        marks = [("independent", goal1)] * 7 + [("verbal cue", goal1)] * 3
        marks += [("trial success", goal2)] * 2 + [("trial fail", goal2)]
        for i, (tag, goal) in enumerate(marks):
            await therapist.send({"type": "tag", "client_ref": f"t{i}", "tag": tag,
                                  "goal_id": goal})  # fmt: skip
        await therapist.send(
            {"type": "note", "client_ref": "n1", "text": "Reached across midline for the block"}
        )
        refs = [f"t{i}" for i in range(len(marks))] + ["n1"]
        acks = [await therapist.expect("annotation_saved") for _ in refs]
        assert sorted(ack["client_ref"] for ack in acks) == sorted(refs)
        await asyncio.sleep(1.5)
        await therapist.send({"type": "end"})
        await parent.expect("ended")
    finally:
        await parent.close()
        await therapist.close()

    def write_note() -> str:
        note = http.post(
            f"/appointments/{visit.id}/note",
            data={"csrf_token": csrf_token(http, f"/clients/{world.client.id}")},
        )
        assert note.status_code == 303, note.text
        return http.get(note.headers["location"], headers={"accept": "text/html"}).text

    page = html.unescape(await asyncio.to_thread(write_note))
    http.close()
    # The real people and the real tallies, turned into objective measures per goal, and the
    # note made during the call.
    assert "Ada Okafor" in page
    assert "Jordan Avery" in page
    assert "7 of 10 trials independent" in page
    assert "Reached across midline for the block" in page
