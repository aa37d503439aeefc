"""Goal-linked observation from the call, in real browsers: the therapist gives the client's goals
their tags, starts the telehealth visit's session, taps tags against two goals (and undoes one);
the drafted note's objective section and the goal chart carry the tallies."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from doc_world import DocWorld, open_world
from e2e_flows import Live, Participant, admit, knock, timeline, wait_frames_growing, wait_until
from live import relay_metric
from practice import ACCOUNT_PASSWORD, license_in

from server.config import load_settings
from server.db import transaction, utcnow
from server.models import Appointment, Client, PlanOfCare
from server.services.documentation.plans import GoalInput, PlanInput, create_plan

pytestmark = pytest.mark.browser


def seed(env: dict[str, str]) -> tuple[DocWorld, Appointment, PlanOfCare]:
    """A licensed therapist, a client whose plan has a trials goal and a frequency goal, and a
    telehealth visit booked for now."""
    today = date.today()

    async def run() -> tuple[DocWorld, Appointment, PlanOfCare]:
        async with open_world(load_settings(env, dotenv=None).database_url) as world:
            goals = [
                GoalInput("long", "grasp", "Tripod grasp on a crayon", "percent_trials", "20",
                          "80", (today + timedelta(days=50)).isoformat()),
                GoalInput("short", "requests", "Requests with a word", "frequency", "1", "8",
                          (today + timedelta(days=50)).isoformat()),
            ]  # fmt: skip
            async with transaction(world.db) as session:
                await license_in(session, world.therapist, world.actor, "IL")
                client = await session.get(Client, world.client.id)
                assert client is not None
                plan = await create_plan(
                    session, world.therapist, client,
                    PlanInput(cert_start=(today - timedelta(days=10)).isoformat(),
                              cert_end=(today + timedelta(days=60)).isoformat(), goals=goals),
                    world.actor,
                )  # fmt: skip
            appt = await world.visit(
                utcnow() - timedelta(minutes=5), mode="telehealth", status="booked"
            )
            return world, appt, plan

    return asyncio.run(run())


def tally(person: Participant, goal: str) -> str:
    return person.page.locator(f".goal-group:has(h4:text-is('{goal}')) .goal-tally").inner_text()


def test_tags_tapped_against_two_goals_reach_the_note_and_the_chart(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    # Playwright's sync API owns this thread's event loop: seed from another thread.
    with ThreadPoolExecutor(1) as pool:
        world, appt, plan = pool.submit(seed, live.server.env).result()
    base = live.server.base_url
    therapist = launch("therapist")
    page = therapist.page
    page.goto(f"{base}/login")
    page.fill("#email", world.therapist.email)
    page.fill("#password", ACCOUNT_PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)

    # The tag page, from the client's plan: each goal starts with its measure's tags.
    page.goto(f"{base}/clients/{world.client.id}")
    page.click("#call-tags-link")
    grasp, requests = plan.goals
    g1, g2 = f"#goal-{grasp.lineage_id}", f"#goal-{requests.lineage_id}"
    assert page.locator(f"{g1} input[value='trial success']").is_checked()
    assert page.locator(f"{g2} input[value='occurrence']").is_checked()
    page.check(f"{g2} input[value='verbal cue']")
    page.fill(f"{g1} input[type=text]", "hand on crayon")
    page.click("#tags-form button[type=submit]")
    page.locator("#tags-saved").wait_for()
    assert page.locator(f"{g1} input[type=text]").input_value() == "hand on crayon"

    # The session, started from the telehealth visit.
    page.goto(f"{base}/schedule/appointments/{appt.id}")
    page.click("#start-video")
    page.wait_for_url(re.compile(r".*/sessions/[0-9a-f-]{36}/call$"))
    therapist.wait_phase("call")
    page.go_back()
    page.reload()
    parent_url = page.input_value("#parent-url")
    page.click("#open-video")
    therapist.wait_phase("call")
    parent = launch("parent")
    pid = knock(parent, parent_url, check_devices=False)
    admit(therapist, pid)
    parent.wait_phase("call")
    wait_frames_growing(therapist, pid)

    # The call shows the goals by their short names, each with its own tags.
    page.locator(".goal-group").first.wait_for()
    assert [h.inner_text() for h in page.locator(".goal-group h4").all()] == ["grasp", "requests"]
    grasp_tags = page.locator(".goal-group:has(h4:text-is('grasp')) button")
    assert [b.get_attribute("data-tag") for b in grasp_tags.all()] == [
        "trial success", "trial fail", "hand on crayon",
    ]  # fmt: skip
    assert tally(therapist, "grasp") == "no tags yet"

    def tap(goal: str, tag: str) -> None:
        page.click(f".goal-group:has(h4:text-is('{goal}')) button[data-tag='{tag}']")

    tap("grasp", "trial success")
    tap("grasp", "trial fail")
    tap("grasp", "trial success")
    tap("grasp", "trial fail")
    assert tally(therapist, "grasp") == "2 of 4 trials"
    # Undo the last tag, with its key (focus outside any text field).
    page.locator("#btn-undo-tag").focus()
    page.keyboard.press("u")
    assert tally(therapist, "grasp") == "2 of 3 trials"
    tap("requests", "occurrence")
    tap("requests", "occurrence")
    tap("requests", "verbal cue")
    # The number keys follow the buttons' order: grasp has 3, so 5 is requests' second.
    page.locator("#btn-undo-tag").focus()
    page.keyboard.press("5")
    assert tally(therapist, "requests") == "occurrence 3 · verbal cue 1"
    wait_until(
        lambda: (
            len(timeline(therapist)) == 9
            and all(i["status"] == "saved" for i in timeline(therapist))
        ),
        10,
        lambda: f"not all saved: {timeline(therapist)}",
    )
    assert timeline(therapist)[4]["label"] == "Undo: trial fail · grasp"
    # The relay forwarded all of it: nothing was decoded or encoded.
    assert relay_metric(live.server.base_url, "tandem_relay_decodes") == 0
    assert relay_metric(live.server.base_url, "tandem_relay_encodes") == 0

    # A reload keeps the tallies, the timeline and what undo takes back next.
    page.reload()
    therapist.wait_phase("call")
    wait_until(
        lambda: (
            page.locator(".goal-tally").all_inner_texts()
            == ["2 of 3 trials", "occurrence 3 · verbal cue 1"]
        ),
        15,
        lambda: f"tallies after the reload: {page.locator('.goal-tally').all_inner_texts()}",
    )
    assert len(timeline(therapist)) == 9
    assert page.inner_text("#btn-undo-tag") == "Undo occurrence · requests"

    # The visit's note, drafted from the session: the tallies are its objective measures.
    page.goto(f"{base}/clients/{world.client.id}")
    page.locator("#timeline button.write-note").first.click()
    page.wait_for_url("**/notes/*")
    objective = page.locator("textarea[name=objective]").input_value().splitlines()
    assert objective[:2] == [
        "Goal 1, grasp: 2 of 3 trials successful (67%)",
        "Goal 2, requests: 4 times; occurrence 3, verbal cue 1",
    ]
    # ... and the goal chart plots them (the draft's points are hollow).
    page.goto(f"{base}/plans/{plan.id}")
    points = [
        page.locator(f"#goal-{n} svg.goal-chart circle.point title").all_text_contents()
        for n in (1, 2)
    ]
    today = datetime.now(ZoneInfo(world.client.time_zone)).date().isoformat()
    assert points == [[f"{today}: 67 (draft)"], [f"{today}: 4 (draft)"]]
