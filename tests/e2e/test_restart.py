"""The server is killed (SIGKILL) in the middle of a recorded call and started again: both pages
come back into the call by themselves, the parent without a second admission; no page claims a
recording until everyone consents again; attendance does not run on through the outage; the
recording made before the kill is rebuilt and decodes."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_flows import (
    Live,
    Participant,
    recording_state,
    start_call_with_parent,
    wait_consent_dialog,
    wait_frames_growing,
    wait_recording_state,
    wait_until,
)
from failover import (
    assert_files_play,
    attendance_rows,
    browsers_for,
    files_of,
    indicator_history,
    same_call_no_second_admission,
    wait_both_back,
    watch,
)
from live import TEST_PASSWORD, LiveServer, prepare_with_therapist, start_server
from protocol_client import login

pytestmark = pytest.mark.browser

EMAIL = "restart@example.test"


@pytest.fixture
def server(tmp_path: Path, chromium: str) -> Iterator[list[LiveServer]]:
    """The server (a list: the test replaces it with its restarted self)."""
    env = prepare_with_therapist(tmp_path, EMAIL)
    env["TANDEM_STORAGE_DIR"] = str(tmp_path / "recordings")
    running = [start_server(env, tmp_path)]
    yield running
    running[-1].stop()


@pytest.fixture
def launch(
    server: list[LiveServer],
    playwright_instance: Any,
    cameras: dict[str, Path],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Participant]]:
    yield from browsers_for(playwright_instance, cameras, request, lambda: server[-1].log())


def wait_not_recording(person: Participant) -> None:
    wait_until(
        lambda: recording_state(person) != "recording",
        5,
        f"{person.who} still shows a recording after the server died",
    )


def test_sigkill_mid_recording_then_restart_keeps_the_call(
    server: list[LiveServer], launch: Callable[[str], Participant]
) -> None:
    first = server[0]
    live = Live(first, EMAIL)
    therapist, parent, ids = start_call_with_parent(live, launch, "Restart e2e")
    t_id, p_id, session_id = ids["therapist_id"], ids["parent_id"], ids["id"]
    wait_frames_growing(parent, t_id)
    wait_frames_growing(therapist, p_id)
    therapist.page.click("#btn-record")
    wait_consent_dialog(parent)
    parent.page.click("#consent-accept")
    for person in (therapist, parent):
        wait_recording_state(person, "recording")
    time.sleep(6)  # something worth keeping in the journals
    for person in (therapist, parent):
        watch(person)

    killed_at, killed = datetime.now(UTC), time.monotonic()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=10)
    # The pages stop claiming a recording as soon as they lose the server.
    for person in (therapist, parent):
        wait_not_recording(person)
    time.sleep(2)

    port = int(first.base_url.rsplit(":", 1)[1])
    restarted = start_server(first.env, first.log_path.parent, "restarted", port=port)
    server.append(restarted)
    ready = time.monotonic()
    back = wait_both_back([(therapist, p_id), (parent, t_id)], 10, ready)
    # What a restart costs a call (docs/operations.md): printed with -s.
    print(f"server down {ready - killed:.1f} s; back in the call after ready: {back}")

    same_call_no_second_admission(therapist, parent, t_id, p_id)

    # Told on entry: the recording is stopped. Nothing claimed a recording meanwhile.
    for person in (therapist, parent):
        wait_recording_state(person, "stopped")
        shown = indicator_history(person)
        # The clock may tick once between `watch` and the kill: count from the moment the page
        # let go of the recording it had.
        lost = next((i for i, s in enumerate(shown) if s.split("|")[0] != "recording"), 0)
        since_loss = shown[lost:]
        assert since_loss, shown
        assert not [s for s in since_loss if s.split("|")[0] in ("recording", "paused")], shown
        assert all(s.split("|")[2] == "" for s in since_loss), shown

    # Attendance from before the kill ended at the dead process's last heartbeat (<= 5 s
    # before the kill), not when someone came back; each is present again under the same id.
    rows = attendance_rows(first.env, session_id)
    before = [r for r in rows if r[1] < killed_at]
    assert sorted(r[0] for r in before) == sorted([t_id, p_id]), rows
    for _, _, left in before:
        assert left is not None, rows
        assert killed_at - timedelta(seconds=6) <= left <= killed_at, rows
    after = [r for r in rows if r[1] > killed_at]
    assert sorted(r[0] for r in after if r[2] is None) == sorted([t_id, p_id]), rows

    # A new recording needs the parent's consent again.
    therapist.page.click("#btn-record")
    wait_consent_dialog(parent)
    for person in (therapist, parent):
        wait_recording_state(person, "awaiting_consent")
    parent.page.click("#consent-accept")
    for person in (therapist, parent):
        wait_recording_state(person, "recording")

    # The recording cut by the kill is rebuilt from its journals; every file decodes.
    http = login(restarted.base_url, EMAIL, TEST_PASSWORD)
    # Rebuilding runs beside two browsers and a new recording on 2 cores: answers can be slow.
    http.timeout = httpx.Timeout(60)
    try:
        files = wait_until(
            lambda: recovered_files(http, session_id),
            60,
            lambda: f"not rebuilt: {files_of(http, session_id)}",
            step=1.0,
        )
        assert_files_play(http, files)
    finally:
        http.close()


def recovered_files(http: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    files = [f for f in files_of(http, session_id) if f["status"] != "recording"]
    return files if len(files) == 2 and all(f["status"] == "recovered" for f in files) else []
