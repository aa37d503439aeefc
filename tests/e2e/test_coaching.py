"""Coaching in real browsers: a cue card reaches the parent and never the observer, and is on the
therapist's timeline; a chat message reaches everyone admitted, links rendered safely; the
therapist's screen share reaches the parent large and is recorded."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from e2e_flows import (
    Live,
    Participant,
    start_call_with_everyone,
    start_call_with_parent,
    timeline,
    wait_consent_dialog,
    wait_frames_growing,
    wait_main_tile_shows,
    wait_recording_state,
    wait_until,
)
from live import relay_metric
from sqlalchemy import select, update

from server.config import load_settings
from server.db import make_engine, make_sessionmaker, utcnow
from server.models import RecordingFile, SecondCameraLink

pytestmark = pytest.mark.browser

RECORD_RECEIVED = (
    "() => { const c = window.tandemCall; window.receivedForTest = [];"
    " const handle = c.handle.bind(c);"
    " c.handle = (msg) => { window.receivedForTest.push(msg.type); return handle(msg); }; }"
)


def received(person: Participant, kind: str) -> int:
    return int(
        person.page.evaluate("(k) => window.receivedForTest.filter((t) => t === k).length", kind)
    )


def test_a_cue_reaches_the_parent_only_and_chat_reaches_everyone(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, observer, _ = start_call_with_everyone(live, launch, "Coaching e2e")
    for person in (parent, observer):
        person.page.evaluate(RECORD_RECEIVED)
    page = therapist.page
    panel = page.locator("#cue-panel")
    panel.wait_for(state="visible")
    assert parent.page.locator("#cue-panel").is_hidden()
    assert observer.page.locator("#cue-panel").is_hidden()
    cues = [b.get_attribute("data-cue") for b in page.locator("#cue-buttons button").all()]
    assert cues == ["wait 5 seconds", "offer a choice", "model the word", "praise the attempt"]

    page.fill("#cue-extra", "car or ball?")
    page.click("#cue-buttons button[data-cue='offer a choice']")
    card = parent.page.locator("#cue-card")
    card.wait_for(state="visible", timeout=10_000)
    assert parent.page.locator("#cue-card-title").inner_text() == "offer a choice"
    assert parent.page.locator("#cue-card-text").inner_text() == "car or ball?"
    # Large: the card covers a good part of the parent's main video.
    box, stage = card.bounding_box(), parent.page.locator("#main-video").bounding_box()
    assert box
    assert stage
    assert box["width"] > stage["width"] * 0.6
    # On the therapist's timeline, saved (cues are stored although nothing is recorded).
    wait_until(
        lambda: timeline(therapist)[0]["status"] == "saved",
        10,
        lambda: f"the cue was not saved: {timeline(therapist)}",
    )
    assert timeline(therapist)[0]["label"] == "Cue: offer a choice (car or ball?)"
    # And gone again after a few seconds.
    card.wait_for(state="hidden", timeout=10_000)

    # A chat message from the parent reaches everyone admitted; markup stays text, a link is a link.
    parent.page.fill("#chat-text", "<b>bold?</b> the schedule: https://example.org/visual?x=1")
    parent.page.press("#chat-text", "Enter")
    for person in (therapist, parent, observer):
        item = person.page.locator("#chat-log li").first
        item.wait_for(timeout=10_000)
        assert "<b>bold?</b> the schedule:" in item.inner_text()
        assert item.locator("b").count() == 0
        link = item.locator("a")
        assert link.get_attribute("href") == "https://example.org/visual?x=1"
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"
    assert therapist.page.locator("#chat-log li .chat-who").inner_text() == "Parent: "
    assert parent.page.locator("#chat-log li .chat-who").inner_text() == "You: "

    # The observer never got the cue (it got the chat, so its messages were being recorded).
    assert received(observer, "chat") == 1
    assert received(observer, "cue") == 0
    assert received(parent, "cue") == 1


def recorded_participants(env: dict[str, str], session_id: str) -> set[str]:
    """Whose files the recorder registered for the session (from the server's database)."""

    async def run() -> set[str]:
        engine = make_engine(load_settings(env, dotenv=None).database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                rows = await session.scalars(
                    select(RecordingFile.participant_id).where(
                        RecordingFile.session_id == uuid.UUID(session_id)
                    )
                )
                return set(rows)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        return pool.submit(asyncio.run, run()).result()


def test_the_therapists_screen_share_reaches_the_parent_large_and_is_recorded(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, links = start_call_with_parent(live, launch, "Screen e2e")
    page = therapist.page
    page.click("#btn-record")
    wait_consent_dialog(parent)
    parent.page.click("#consent-accept")
    wait_recording_state(therapist, "recording")

    share = page.locator("#btn-share")
    share.wait_for(state="visible")
    share.click()  # headless Chromium's fake UI picks its fake screen (1280x720)
    screen_id = f"{links['therapist_id']}-screen"
    wait_frames_growing(parent, screen_id, timeout=20)
    # Large on the parent's side; labelled as the therapist's screen.
    main = parent.page.locator("#main-video figure.remote")
    wait_until(
        lambda: main.get_attribute("data-participant") == screen_id,
        10,
        lambda: f"the parent's main tile is {main.get_attribute('data-participant')}",
    )
    assert "'s screen" in main.locator("figcaption").inner_text()
    # The parent still gets the therapist's camera too.
    wait_frames_growing(parent, links["therapist_id"])
    assert share.inner_text() == "Stop sharing"
    # Recorded to a file of its own; the relay decoded and encoded nothing.
    wait_until(
        lambda: screen_id in recorded_participants(live.server.env, links["id"]),
        15,
        lambda: f"no file for the screen: {recorded_participants(live.server.env, links['id'])}",
    )
    assert relay_metric(live.server.base_url, "tandem_relay_decodes") == 0
    assert relay_metric(live.server.base_url, "tandem_relay_encodes") == 0

    # Stopping the share takes it off the parent's stage.
    share.click()
    wait_until(
        lambda: main.get_attribute("data-participant") == links["therapist_id"],
        10,
        lambda: f"the parent's main tile is {main.get_attribute('data-participant')}",
    )


def expire_camera_links(env: dict[str, str]) -> None:
    """Every second-camera link of the server's database expires now (as if 10 minutes passed)."""

    async def run() -> None:
        engine = make_engine(load_settings(env, dotenv=None).database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await session.execute(
                    update(SecondCameraLink).values(expires_at=utcnow() - timedelta(seconds=1))
                )
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def show_camera_code(parent: Participant, previous: str = "") -> str:
    page = parent.page
    page.locator("#camera-panel").wait_for(state="visible")
    page.click("#btn-camera-link")
    url: str = wait_until(
        lambda: (
            (page.inner_text("#camera-url") or None)
            if page.inner_text("#camera-url") != previous
            else None
        ),
        10,
        lambda: "no new second-camera link",
    )
    assert (page.get_attribute("#camera-qr", "src") or "").startswith("data:image/svg+xml;base64,")
    return url


def test_the_parents_phone_joins_once_as_a_second_camera(
    live: Live, launch: Callable[[str], Participant]
) -> None:
    therapist, parent, links = start_call_with_parent(live, launch, "Second camera e2e")
    assert therapist.page.locator("#camera-panel").is_hidden()  # the parent's own panel
    therapist.page.click("#btn-record")
    wait_consent_dialog(parent)
    parent.page.click("#consent-accept")
    wait_recording_state(therapist, "recording")
    url = show_camera_code(parent)
    assert re.fullmatch(rf"{re.escape(live.server.base_url)}/c/[A-Za-z0-9_-]{{12,}}", url)

    # A phone-sized browser with its own (green) camera opens the short link.
    phone = launch("observer-phone")
    phone.page.set_viewport_size({"width": 390, "height": 844})
    phone.page.goto(url)
    start = phone.page.locator("#btn-camera-start")
    wait_until(start.is_enabled, 10, lambda: phone.page.inner_text("#camera-status"))
    start.click()
    phone.page.locator("#camera[data-state=sending]").wait_for(timeout=15_000)

    # The therapist receives it as the parent's second camera (no second admission).
    camera_id = f"{links['parent_id']}-camera"
    wait_frames_growing(therapist, camera_id, timeout=20)
    tile = therapist.page.locator(f"figure.remote[data-participant='{camera_id}']")
    assert "second camera" in tile.locator("figcaption").inner_text()
    assert therapist.page.locator("#waiting-list li").count() == 0
    # Both cameras: the parent's large, the phone's small; a click swaps them.
    wait_main_tile_shows(therapist, "parent")
    tile.click()
    wait_main_tile_shows(therapist, "observer")  # the phone films green
    assert relay_metric(live.server.base_url, "tandem_relay_decodes") == 0
    # Recorded while recording is on: one file per camera, the parent's and the phone's.
    wait_until(
        lambda: (
            {links["parent_id"], camera_id} <= recorded_participants(live.server.env, links["id"])
        ),
        15,
        lambda: f"files: {recorded_participants(live.server.env, links['id'])}",
    )
    wait_recording_state(therapist, "recording")  # the camera needed no consent of its own

    # The link works once: opened again, it is refused.
    again = phone.context.new_page()
    assert again.goto(url).status == 410  # type: ignore[union-attr]
    # An expired link is refused as well.
    fresh = show_camera_code(parent, previous=url)
    assert fresh != url
    expire_camera_links(live.server.env)
    assert again.goto(fresh).status == 410  # type: ignore[union-attr]
