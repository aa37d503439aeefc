"""Recording through a real Tandem process: consent, the media recorder, finalized files served
with Range to the owner only; and a recording cut short by a SIGKILL is recovered at the next
start."""

from __future__ import annotations

import asyncio
import html
import io
import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from live import TEST_PASSWORD, LiveServer, create_account, prepare_environment, start_server
from live_call import admit, join_token, new_call
from protocol_client import ProtocolClient, csrf_token, login
from s3 import moto_server, s3_client, s3_environment

from media.testing.pattern import decode_frame_number

EMAIL = "recorder@example.test"


def state_is(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message["state"] == state


@pytest.fixture
def env_and_tmp(tmp_path: Path) -> tuple[dict[str, str], Path]:
    env = prepare_environment(tmp_path)
    env["TANDEM_STORAGE_DIR"] = str(tmp_path / "recordings")
    create_account(env, EMAIL)
    return env, tmp_path


async def recording_call(
    server: LiveServer, http: httpx.Client
) -> tuple[ProtocolClient, ProtocolClient]:
    """A call with the parent admitted, recording with their consent."""
    call = await asyncio.to_thread(new_call, http, server.base_url, "Recorded")
    therapist, parent = call.therapist, call.parent
    await call.start()
    await therapist.wait_media_from(parent.participant_id or "", frames=10)
    await therapist.send({"type": "record", "action": "request"})
    prompt = await parent.expect("consent_request")
    await parent.send({"type": "consent", "request_id": prompt["request_id"], "accept": True})
    await therapist.expect_matching("recording", state_is("recording"))
    return therapist, parent


def files_of(http: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    page = http.get(f"/sessions/{session_id}/playback", headers={"accept": "text/html"})
    assert page.status_code == 200
    match = re.search(r'data-playback="([^"]+)"', page.text)
    assert match
    files: list[dict[str, Any]] = json.loads(html.unescape(match.group(1)))["files"]
    return files


async def finalized_files(
    http: httpx.Client, session_id: str, count: int, within: float = 30.0
) -> list[dict[str, Any]]:
    """The session's files once `count` of them are finalized (finalizing runs after stop)."""
    deadline = time.monotonic() + within
    files: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        files = await asyncio.to_thread(files_of, http, session_id)
        if len(files) == count and all(f["status"] == "finalized" for f in files):
            break
        await asyncio.sleep(0.5)
    return files


async def record_and_stop(
    server: LiveServer, http: httpx.Client, seconds: float
) -> tuple[ProtocolClient, ProtocolClient, list[dict[str, Any]]]:
    """A recorded call of ``seconds``, stopped; with its files once finalized."""
    therapist, parent = await recording_call(server, http)
    await asyncio.sleep(seconds)
    await therapist.send({"type": "record", "action": "stop"})
    await therapist.expect_matching("recording", state_is("stopped"))
    return therapist, parent, await finalized_files(http, therapist.session_id, 2)


def decoded_numbers(data: bytes) -> tuple[list[int], int]:
    numbers, audio = [], 0
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode():
            if isinstance(frame, av.VideoFrame):
                number = decode_frame_number(frame)
                if number is not None:
                    numbers.append(number)
            else:
                audio += 1
    return numbers, audio


async def test_recorded_call_is_finalized_and_served_with_range(
    env_and_tmp: tuple[dict[str, str], Path],
) -> None:
    env, tmp = env_and_tmp
    server = start_server(env, tmp)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    try:
        therapist, parent, files = await record_and_stop(server, http, 5)
        session_id = therapist.session_id
        assert sorted(f["status"] for f in files) == ["finalized", "finalized"], files
        parent_file = next(f for f in files if f["participant_id"] == parent.participant_id)
        assert parent_file["duration_ms"] > 2000
        assert re.fullmatch(r"[0-9a-f]{64}", parent_file["sha256"])
        url = parent_file["url"]
        whole = await asyncio.to_thread(http.get, url)
        assert whole.status_code == 200
        assert whole.headers["accept-ranges"] == "bytes"
        numbers, audio = decoded_numbers(whole.content)
        assert len(numbers) > 30
        assert numbers == sorted(numbers)
        assert audio > 50
        part = await asyncio.to_thread(http.get, url, headers={"range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        assert part.content == whole.content[100:200]
        huge = await asyncio.to_thread(
            http.get, url, headers={"range": "bytes=" + "9" * 5000 + "-"}
        )
        assert huge.status_code == 416
        bad_t = await asyncio.to_thread(http.get, f"/sessions/{session_id}/playback?t=abc")
        assert bad_t.status_code == 400
        # Nobody else gets it: not another therapist, not the parent's browser.
        assert (await asyncio.to_thread(httpx.get, server.base_url + url)).status_code in (303, 401)
        await therapist.close()
        await parent.close()
    finally:
        http.close()
        server.stop()


async def test_with_an_s3_store_the_recording_is_uploaded_and_served_from_the_bucket(
    env_and_tmp: tuple[dict[str, str], Path],
) -> None:
    """moto's server mode stands in for S3 (an emulator): what is served comes from the bucket,
    not from the disk it was recorded on."""
    env, tmp = env_and_tmp
    with moto_server(tmp / "moto.log") as endpoint:
        s3_client(endpoint).create_bucket(Bucket="tandem-recordings")
        env = {**env, **s3_environment(endpoint, "tandem-recordings")}
        server = start_server(env, tmp)
        http = login(server.base_url, EMAIL, TEST_PASSWORD)
        try:
            therapist, parent, files = await record_and_stop(server, http, 4)
            assert sorted(f["status"] for f in files) == ["finalized", "finalized"], files
            listed = s3_client(endpoint).list_objects_v2(Bucket="tandem-recordings")
            keys = sorted(o["Key"] for o in listed["Contents"])
            assert len(keys) == 2
            assert all(k.startswith(f"recordings/{therapist.session_id}/") for k in keys), keys
            assert all(k.endswith("/final.webm") for k in keys), keys
            for local in (tmp / "recordings").glob("*/*/*/final.webm"):
                local.unlink()
            for f in files:
                whole = await asyncio.to_thread(http.get, f["url"])
                assert whole.status_code == 200
                numbers, audio = decoded_numbers(whole.content)
                assert len(numbers) > 30
                assert audio > 50
                part = await asyncio.to_thread(http.get, f["url"], headers={"range": "bytes=-64"})
                assert part.status_code == 206
                assert part.content == whole.content[-64:]
            await therapist.close()
            await parent.close()
        finally:
            http.close()
            server.stop()


async def test_sigkill_mid_recording_is_recovered_from_the_journal_at_the_next_start(
    env_and_tmp: tuple[dict[str, str], Path],
) -> None:
    env, tmp = env_and_tmp
    server = start_server(env, tmp)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    try:
        therapist, parent = await recording_call(server, http)
        session_id = therapist.session_id
        await asyncio.sleep(8)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        await therapist.close()
        await parent.close()
        recordings = tmp / "recordings" / session_id
        assert len(list(recordings.glob("*/*/journal.bin"))) == 2, "no journal before the kill"
        assert not list(recordings.glob("*/*/final.json"))
        http.close()
        # The next start marks both files incomplete and builds them from their journals.
        server = start_server(env, tmp, "restarted")
        http = login(server.base_url, EMAIL, TEST_PASSWORD)
        deadline = time.monotonic() + 90
        files: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            files = await asyncio.to_thread(files_of, http, session_id)
            if len(files) == 2 and all(f["status"] == "recovered" for f in files):
                break
            await asyncio.sleep(0.5)
        assert sorted(f["status"] for f in files) == ["recovered", "recovered"], files
        for f in files:
            served = await asyncio.to_thread(http.get, f["url"])
            assert served.status_code == 200
            numbers, audio = decoded_numbers(served.content)
            # ~8 s recorded at 30 fps, up to ~0.5 s lost at the kill
            assert len(numbers) > 30, f"{f['participant_id']} built into too few frames"
            assert numbers == sorted(numbers)
            assert audio > 50
            assert f["duration_ms"] > 4000
        assert not list(recordings.glob("*/*/journal.bin"))
        page = await asyncio.to_thread(
            http.get, f"/sessions/{session_id}/playback", headers={"accept": "text/html"}
        )
        assert "was recovered after the server stopped" in page.text
    finally:
        http.close()
        server.stop()


async def test_a_graceful_stop_finalizes_recordings_in_progress(
    env_and_tmp: tuple[dict[str, str], Path],
) -> None:
    env, tmp = env_and_tmp
    server = start_server(env, tmp)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    try:
        therapist, parent = await recording_call(server, http)
        session_id = therapist.session_id
        await asyncio.sleep(4)
        # A deploy restarts the process (SIGTERM) while the therapist is still recording.
        await asyncio.to_thread(server.stop)
        await therapist.close()
        await parent.close()
        http.close()
        server = start_server(env, tmp, "restarted")
        http = login(server.base_url, EMAIL, TEST_PASSWORD)
        files = await asyncio.to_thread(files_of, http, session_id)
        assert sorted(f["status"] for f in files) == ["finalized", "finalized"], files
        assert all(f["duration_ms"] > 1000 for f in files)
    finally:
        http.close()
        server.stop()


async def test_a_late_joiner_pauses_recording_and_their_file_starts_later(
    env_and_tmp: tuple[dict[str, str], Path],
) -> None:
    env, tmp = env_and_tmp
    server = start_server(env, tmp)
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    try:
        therapist, parent = await recording_call(server, http)
        session_id = therapist.session_id
        await asyncio.sleep(3)
        # A second caregiver joins with a new link: recording pauses until they accept.
        page = await asyncio.to_thread(
            http.post,
            f"/sessions/{session_id}/links",
            data={
                "csrf_token": await asyncio.to_thread(csrf_token, http, f"/sessions/{session_id}"),
                "role": "parent", "display_name": "Second caregiver",
            },
        )  # fmt: skip
        assert page.status_code == 303
        console = await asyncio.to_thread(http.get, f"/sessions/{session_id}")
        second_url = re.findall(r'class="join-url" readonly value="([^"]+)"', console.text)[-1]
        token = join_token(html.unescape(second_url))
        late = ProtocolClient(server.base_url, session_id, token=token, tone_hz=880)
        await admit(therapist, late)
        prompt = await late.expect("consent_request")
        await therapist.expect_matching("recording", state_is("awaiting_consent"))
        await late.send({"type": "consent", "request_id": prompt["request_id"], "accept": True})
        await therapist.expect_matching("recording", state_is("recording"))
        await asyncio.sleep(3)
        await therapist.send({"type": "record", "action": "stop"})
        await therapist.expect_matching("recording", state_is("stopped"))
        files = await finalized_files(http, session_id, 3)
        by_pid = {f["participant_id"]: f for f in files}
        assert by_pid[late.participant_id]["status"] == "finalized", files
        # Their file begins about 3 s into the recording; the first caregiver's at its start.
        assert by_pid[late.participant_id]["offset_ms"] >= 2000
        assert by_pid[parent.participant_id]["offset_ms"] < 1500
        for client in (late, parent, therapist):
            await client.close()
    finally:
        http.close()
        server.stop()
