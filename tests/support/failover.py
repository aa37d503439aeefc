"""Browser checks for calls that survive a server's death: who went back to the lobby, what
the recording indicator showed, and when each page was back in the call."""

from __future__ import annotations

import html
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from e2e_flows import (
    Browsers,
    Participant,
    frames_from,
    wait_consent_dialog,
    wait_frames_growing,
    wait_recording_state,
)

WATCH_JS = """() => {
  const call = window.tandemCall;
  window.__oldPc = call.peer ? call.peer.pc : null;
  window.__phases = [];
  window.__recording = [];
  const root = document.getElementById("call");
  new MutationObserver(() => window.__phases.push(root.dataset.phase))
    .observe(root, { attributes: true, attributeFilter: ["data-phase"] });
  const indicator = document.getElementById("recording-indicator");
  const clock = document.getElementById("recording-clock");
  const note = () => window.__recording.push(
    `${indicator.dataset.state}|${document.getElementById("recording-label").textContent}|${clock.textContent}`);
  new MutationObserver(note).observe(indicator, { attributes: true, childList: true,
    subtree: true, characterData: true });
}"""

BACK_JS = """() => {
  const c = window.tandemCall;
  return c.root.dataset.phase === "call" && c.peer !== null && c.peer.pc !== window.__oldPc
    && c.peer.pc.connectionState === "connected";
}"""


def watch(person: Participant) -> None:
    """From now on, record every phase and every recording indicator change of the page."""
    person.page.evaluate(WATCH_JS)


def phases(person: Participant) -> list[str]:
    result: list[str] = person.page.evaluate("() => window.__phases")
    return result


def indicator_history(person: Participant) -> list[str]:
    """Each change of the indicator since `watch`: 'state|label|clock'."""
    result: list[str] = person.page.evaluate("() => window.__recording")
    return result


def back_in_call(person: Participant, other_id: str, base: int) -> bool:
    """On a new, connected peer connection, decoding new video from ``other_id``."""
    return bool(person.page.evaluate(BACK_JS)) and frames_from(person, other_id) > base


def wait_both_back(
    pairs: list[tuple[Participant, str]], timeout: float, since: float
) -> dict[str, float]:
    """Seconds from ``since`` (monotonic) until each page was back in the call and decoding
    video from the other; AssertionError naming who is not back after ``timeout``."""
    back: dict[str, float] = {}
    # Frame counters restart with the new peer connection: any frame on it counts.
    deadline = since + timeout
    while len(back) < len(pairs):
        for person, other in pairs:
            if person.who not in back and back_in_call(person, other, 0):
                back[person.who] = time.monotonic() - since
        if time.monotonic() > deadline:
            missing = [p.who for p, _ in pairs if p.who not in back]
            state = {p.who: p.page.evaluate(STATE_JS) for p, _ in pairs}
            raise AssertionError(f"not back in the call within {timeout} s: {missing}; {state}")
        time.sleep(0.1)
    return back


STATE_JS = """() => { const c = window.tandemCall; return {
  phase: c.root.dataset.phase, connection: c.root.dataset.connection,
  pc: c.peer ? c.peer.pc.connectionState : null,
  newPc: c.peer ? c.peer.pc !== window.__oldPc : null,
}; }"""


def page_state(person: Participant) -> Any:
    return person.page.evaluate(STATE_JS)


def attendance_rows(env: dict[str, str], session_id: str) -> list[tuple[str, Any, Any]]:
    """(participant id, joined_at, left_at) of the session, read from the server's database
    in a thread of its own (Playwright's sync API keeps an event loop in this one)."""
    import asyncio
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import select

    from server.config import load_settings
    from server.db import make_engine, make_sessionmaker
    from server.models import SessionAttendance

    async def read() -> list[tuple[str, Any, Any]]:
        engine = make_engine(load_settings(env, dotenv=None).database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                found = await session.scalars(
                    select(SessionAttendance)
                    .where(SessionAttendance.session_id == uuid.UUID(session_id))
                    .order_by(SessionAttendance.joined_at)
                )
                return [(r.participant_id, r.joined_at, r.left_at) for r in found]
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(read())).result()


def same_call_no_second_admission(
    therapist: Participant, parent: Participant, t_id: str, p_id: str
) -> None:
    """Back under the same ids, the parent never in the lobby, nobody waiting, video both ways."""
    assert parent.participant_id() == p_id
    assert therapist.participant_id() == t_id
    assert "lobby" not in phases(parent)
    assert therapist.page.locator("#waiting-list li").count() == 0
    wait_frames_growing(therapist, p_id)
    wait_frames_growing(parent, t_id)


def browsers_for(
    playwright: Any,
    cameras: dict[str, Path],
    request: pytest.FixtureRequest,
    server_log: Callable[[], str],
) -> Iterator[Callable[[str], Participant]]:
    """The `launch` of tests that kill servers: as tests/e2e's, except that the pages' failed
    attempts to reconnect while no server answers are expected, not errors."""
    browsers = Browsers(playwright)
    yield lambda who: browsers.open(who, cameras[who])
    report = getattr(request.node, "rep_call", None)
    errors = browsers.close(report is not None and report.failed, server_log)
    errors = [e for e in errors if "WebSocket connection to" not in e]
    if report is not None and report.passed and errors:
        pytest.fail("errors in the browsers:\n" + "\n".join(errors))


def decoded(data: bytes) -> tuple[int, int]:
    """(video frames, audio frames) decoded from a recording file."""
    video = audio = 0
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode():
            if isinstance(frame, av.VideoFrame):
                video += 1
            else:
                audio += 1
    return video, audio


def files_of(http: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    """The recording files the playback page lists (status, url, participant...)."""
    page = http.get(f"/sessions/{session_id}/playback", headers={"accept": "text/html"})
    match = re.search(r'data-playback="([^"]+)"', page.text)
    assert match, page.status_code
    files: list[dict[str, Any]] = json.loads(html.unescape(match.group(1)))["files"]
    return files


def assert_files_play(http: httpx.Client, files: list[dict[str, Any]]) -> None:
    """Each file, fetched over HTTP, decodes to a few seconds of video and audio."""
    for f in files:
        video, audio = decoded(http.get(f["url"]).content)
        assert video > 30, f
        assert audio > 50, f


def record_a_while(therapist: Participant, parent: Participant, seconds: float) -> None:
    """The therapist records, the parent consents; ``seconds`` of recording."""
    therapist.page.click("#btn-record")
    wait_consent_dialog(parent)
    parent.page.click("#consent-accept")
    for person in (therapist, parent):
        wait_recording_state(person, "recording")
    time.sleep(seconds)
