"""In the browser: open a completed telehealth session's draft note, edit (autosaved), sign,
add an addendum."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from doc_world import DocWorld, HeldSession, build_held_world
from e2e_flows import Live, Participant

from server.config import load_settings

pytestmark = pytest.mark.browser


def seed(env: dict[str, str]) -> tuple[DocWorld, HeldSession]:
    return build_held_world(load_settings(env, dotenv=None).database_url)


def test_draft_edit_sign_addendum(live: Live, launch: Callable[[str], Participant]) -> None:
    # Playwright's sync API owns this thread's event loop: seed from another thread.
    with ThreadPoolExecutor(1) as pool:
        world, held = pool.submit(seed, live.server.env).result()
    base = live.server.base_url
    page = launch("therapist").page
    page.goto(f"{base}/login")
    page.fill("#email", world.therapist.email)
    page.fill("#password", "correct-horse-1")
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(lambda url: "/login" not in url)

    # The dashboard has nothing to sign yet; the client's timeline offers the visit's note.
    page.goto(f"{base}/clients/{world.client.id}")
    page.locator("#timeline button.write-note").first.click()
    page.wait_for_url("**/notes/*")
    note_url = page.url
    objective = page.locator("textarea[name=objective]")
    assert objective.input_value().startswith("Goal 1, grasp: 7 of 10 trials independent (70%)")
    assert page.locator(".participants").inner_text().count("Ada Okafor") == 1
    recording = page.locator("a.recording-link")
    assert recording.get_attribute("href") == f"/sessions/{held.video_id}/playback?t=0"
    page.locator("form[data-autosave-ready=yes]").wait_for()

    # Edit: autosaved on blur, without pressing Save.
    page.fill("textarea[name=assessment]", "Emerging tripod grasp with a model.")
    page.locator("textarea[name=plan]").click()
    page.locator("#autosave-status:has-text('Saved')").wait_for()
    page.goto(note_url)
    assert page.locator("textarea[name=assessment]").input_value() == (
        "Emerging tripod grasp with a model."
    )
    page.goto(f"{base}/")
    assert page.locator(f"#unsigned-notes a[href='{note_url.removeprefix(base)}']").count() == 1

    # Sign: the note locks and shows its verified hash.
    page.goto(note_url)
    page.fill("textarea[name=plan]", "Continue weekly telehealth.")
    page.click("#sign-note")
    page.locator("#hash-verified").wait_for()
    assert page.locator("textarea").count() == 1  # only the addendum form remains editable
    assert page.locator("#soap-plan").inner_text() == "Continue weekly telehealth."
    assert "Signed" in page.locator("#note-status").inner_text()

    # An addendum is added below the unchanged original.
    page.fill("input[name=reason]", "Correction")
    page.fill("textarea[name=text]", "Grandfather also present for the last ten minutes.")
    page.click("button:has-text('Add addendum')")
    page.locator(".addendum:has-text('Grandfather also present')").wait_for()
    assert page.locator(".addendum").count() == 1
    assert page.locator("#soap-assessment").inner_text() == "Emerging tripod grasp with a model."
    status = page.evaluate(
        "async (u) => (await (await fetch(u, {headers: {accept: 'application/json'}})).json())",
        f"/api/v1/notes/{note_url.rsplit('/', 1)[1]}",
    )
    assert (status["status"], status["verified"], len(status["addenda"])) == ("signed", True, 1)
