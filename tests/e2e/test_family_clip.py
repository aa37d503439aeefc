"""In the browser, the home program from the session: the therapist makes a clip from a
recorded session and shares it; the parent signs in from the emailed link (a real SMTP server,
aiosmtpd), agrees to sharing, sees the clip play and logs practice; the next note's draft says
so; when the parent withdraws sharing consent, the clip is gone and its URL answers 403."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from demo_site import write_webm
from doc_world import DocWorld, HeldSession, build_held_world
from e2e_flows import Browsers, Participant, wait_js, wait_until
from live import LiveServer, prepare_with_therapist, serving
from smtp_inbox import Mailbox, text_of
from sqlalchemy import select

from server.config import load_settings
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.models import RecordingFile

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module")
def mail() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def server(
    chromium: str, mail: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("family-e2e")
    env = prepare_with_therapist(tmp, "unused@example.test")
    env["TANDEM_SMTP_URL"] = mail.url
    with serving(env, tmp) as live:
        yield live


@pytest.fixture
def launch(
    server: LiveServer,
    playwright_instance: Any,
    cameras: dict[str, Path],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Participant]]:
    browsers = Browsers(playwright_instance)
    yield lambda who: browsers.open(who, cameras[who])
    report = getattr(request.node, "rep_call", None)
    failed = report is not None and report.failed
    page_errors = browsers.close(failed, server.log)
    if report is not None and report.passed and page_errors:
        pytest.fail("errors in the browsers:\n" + "\n".join(page_errors))


def seed(env: dict[str, str]) -> tuple[DocWorld, HeldSession]:
    """A held telehealth session whose recording file is a real WebM (20 s, VP8 + Opus)."""
    settings = load_settings(env, dotenv=None)
    world, held = build_held_world(settings.database_url)

    async def storage_path() -> str:
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                row = await session.scalar(
                    select(RecordingFile).where(RecordingFile.session_id == held.video_id)
                )
                assert row is not None
                return row.storage_path
        finally:
            await engine.dispose()

    write_webm(settings.storage_dir / Path(asyncio.run(storage_path())), seconds=20)
    return world, held


def visit_today(world: DocWorld) -> str:
    appt = asyncio.run(world.visit(utcnow() - timedelta(hours=2)))
    return str(appt.id)


def test_clip_shared_played_practised_and_withdrawn(
    server: LiveServer, mail: Mailbox, launch: Callable[[str], Participant]
) -> None:
    with ThreadPoolExecutor(1) as pool:
        world, held = pool.submit(seed, server.env).result()
    base = server.base_url
    therapist = launch("therapist").page
    therapist.goto(f"{base}/login")
    therapist.fill("#email", world.therapist.email)
    therapist.fill("#password", PASSWORD)
    therapist.click("button[type=submit]:has-text('Sign in')")
    therapist.wait_for_url(lambda url: "/login" not in url)

    # The therapist picks a moment of the recording and makes it a home-program item.
    therapist.goto(f"{base}/sessions/{held.video_id}/playback")
    therapist.fill("#clip-start", "6")
    therapist.fill("#clip-end", "11")
    therapist.fill("#clip-item-title", "Buttons at breakfast")
    therapist.fill("#clip-instruction", "Let her do the last two buttons; wait before you help.")
    with therapist.expect_navigation():
        therapist.click("#clip-form button[type=submit]")
    assert f"/clients/{world.client.id}" in therapist.url
    with therapist.expect_navigation():
        therapist.click("main form[action$='/family-links'] button[type=submit]")

    # The parent: the sign-in link from the email, then sharing consent, then the clip plays.
    message = wait_until(
        lambda: next((m for m in mail.received if m["To"] == "ada@example.test"), None),
        20, "no sign-in email arrived",
    )  # fmt: skip
    link = re.search(r"http://\S+/family/sign-in/\S+", text_of(message))
    assert link
    parent = launch("parent").page
    parent.goto(link.group(0))
    with parent.expect_navigation():
        parent.click("main button[type=submit]")
    parent.click("a:has-text('Buttons at breakfast')")
    parent.locator("#clip-hidden").wait_for()
    item_url = parent.url
    clip_url = item_url.removeprefix(base) + "/clip"
    assert parent.request.get(base + clip_url).status == 403
    parent.click("#clip-hidden a")
    parent.fill("#signed-name", "Ada Okafor")
    with parent.expect_navigation():
        parent.click("main form[action='/family/forms/sharing'] button[type=submit]")
    parent.goto(item_url)
    video = parent.locator("#clip-video")
    video.wait_for()
    parent.evaluate("() => { const v = document.getElementById('clip-video'); v.muted = true; "
                    "v.play(); }")  # fmt: skip
    # Playing: time moves on from where it started (the chosen moment, past the keyframe).
    first = wait_js(parent, "() => { const v = document.getElementById('clip-video'); "
                    "return v.readyState >= 2 && v.currentTime; }", 15)  # fmt: skip
    wait_js(parent, f"() => document.getElementById('clip-video').currentTime > {first} + 0.5", 15)

    parent.fill("#minutes", "10")
    parent.check("input[name=how_it_went][value=easy]")
    with parent.expect_navigation():
        parent.click("#practice-form button[type=submit]")
    assert "10 min · Went well" in parent.locator("#practice-entries").inner_text()

    # The next visit's draft note carries what the parent logged.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(visit_today, world).result()
    therapist.goto(f"{base}/clients/{world.client.id}")
    with therapist.expect_navigation():
        therapist.locator("#timeline button.write-note").first.click()
    subjective = therapist.locator("textarea[name=subjective]").input_value()
    assert subjective.startswith("Parent reports practice 1 of 7 days, 10 min a day")

    # Withdrawn: the clip is gone from the family's page and its URL refused.
    parent.goto(f"{base}/family/forms/sharing")
    with parent.expect_navigation():
        parent.click("main form[action='/family/forms/sharing/withdraw'] button[type=submit]")
    parent.goto(item_url)
    assert parent.locator("#clip-video").count() == 0
    parent.locator("#clip-hidden").wait_for()
    assert parent.request.get(base + clip_url).status == 403
