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
from doc_world import DocWorld, make_world
from live import LiveServer, prepare_environment, start_server
from protocol_client import ProtocolClient, confirm_location, csrf_token, login

from server.config import load_settings
from server.db import make_engine, make_sessionmaker, utcnow
from server.models import Appointment

PASSWORD = "correct-horse-1"


@pytest.fixture
def world_server(tmp_path: Path) -> Iterator[tuple[LiveServer, DocWorld, Appointment]]:
    env = prepare_environment(tmp_path)

    async def seed() -> tuple[DocWorld, Appointment]:
        engine = make_engine(load_settings(env, dotenv=None).database_url)
        try:
            world = await make_world(make_sessionmaker(engine))
            visit = await world.visit(
                utcnow() + timedelta(minutes=10), mode="telehealth", status="booked"
            )
            return world, visit
        finally:
            await engine.dispose()

    world, visit = asyncio.run(seed())
    server = start_server(env, tmp_path)
    try:
        yield server, world, visit
    finally:
        server.stop()


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
        await therapist.join()
        await therapist.expect("welcome")
        await parent.join()
        await parent.expect("welcome")
        await therapist.expect_matching("lobby_update", lambda m: bool(m["waiting"]))
        await therapist.send({"type": "admit", "participant_id": parent.participant_id})
        await parent.expect("admitted")
        await therapist.wait_media_from(parent.participant_id or "", frames=10)

        marks = [("independent", goal1)] * 7 + [("verbal cue", goal1)] * 3
        marks += [("trial success", goal2)] * 2 + [("trial fail", goal2)]
        for i, (tag, goal) in enumerate(marks):
            await therapist.send({"type": "tag", "client_ref": f"t{i}", "tag": tag,
                                  "goal_id": goal})  # fmt: skip
        await therapist.send(
            {"type": "note", "client_ref": "n1", "text": "Reached across midline for the block"}
        )
        for ref in [f"t{i}" for i in range(len(marks))] + ["n1"]:
            await therapist.expect_matching(
                "annotation_saved", lambda m, r=ref: m["client_ref"] == r
            )
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
