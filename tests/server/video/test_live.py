"""The live session end to end over real sockets: aiortc participants speak the documented
protocol to a real Tandem process (uvicorn), through its relay."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import TEST_PASSWORD, LiveServer, relay_metric, serving_with_account
from live_call import LiveCall, admit, join_token, new_call
from protocol_client import ProtocolClient, csrf_token, login, start_session

EMAIL = "live@example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_with_account(tmp_path_factory.mktemp("live"), EMAIL) as live:
        yield live


@pytest.fixture(scope="module")
def therapist_http(server: LiveServer) -> Iterator[httpx.Client]:
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    yield http
    http.close()


@pytest.fixture
async def call(server: LiveServer, therapist_http: httpx.Client) -> AsyncIterator[LiveCall]:
    c = new_call(therapist_http, server.base_url, "Live test")
    try:
        await c.start()
        yield c
    finally:
        await c.close()


def increasing(numbers: list[int]) -> bool:
    return all(b > a for a, b in itertools.pairwise(numbers))


async def test_lobby_admit_and_media_both_ways_without_decoding(
    call: LiveCall, server: LiveServer
) -> None:
    await call.flowing(frames=30)
    from_parent = call.therapist.frames_from(call.parent.participant_id or "")
    from_therapist = call.parent.frames_from(call.therapist.participant_id or "")
    # What arrives is what was sent, in order: the numbers painted into the frames.
    assert increasing(from_parent)
    assert increasing(from_therapist)
    assert len(from_parent) >= 30
    assert call.therapist.media is not None
    tones = call.therapist.media.stream(call.parent.participant_id or "").tones
    assert tones
    assert abs(sorted(tones)[len(tones) // 2] - 660) < 40  # the parent's tone, not ours
    participants = (await call.parent.expect("participants"))["participants"]
    assert {p["role"] for p in participants} >= {"therapist", "parent"}
    assert relay_metric(server.base_url, "tandem_relay_decodes") == 0
    assert relay_metric(server.base_url, "tandem_relay_encodes") == 0
    assert relay_metric(server.base_url, "tandem_relay_forwarded_frames") > 0


async def test_observer_receives_everyone_and_sends_nothing(
    call: LiveCall, server: LiveServer
) -> None:
    token = join_token(call.urls["observer"])
    observer = ProtocolClient(server.base_url, call.session_id, token=token, publish=False)
    try:
        await observer.join()
        await observer.expect("welcome")
        await call.therapist.expect("lobby_update")
        await call.therapist.send({"type": "admit", "participant_id": observer.participant_id})
        await observer.expect("admitted")
        await observer.wait_media_from(call.parent.participant_id or "", frames=10, audio=10)
        await observer.wait_media_from(call.therapist.participant_id or "", frames=10, audio=10)
        # Nobody receives anything from the observer, and everyone sees them listed.
        assert call.parent.media is not None
        assert observer.participant_id not in call.parent.media.received
        roster = (await call.parent.expect("participants"))["participants"]
        while not any(p["role"] == "observer" for p in roster):
            roster = (await call.parent.expect("participants"))["participants"]
        # A publish attempt is refused (and audited).
        await observer.send({"type": "media_state", "audio": True, "video": True})
        error = await observer.expect("error")
        assert error["code"] == "publish_not_allowed"
        await observer.send({"type": "admit", "participant_id": call.parent.participant_id})
        assert (await observer.expect("error"))["code"] == "forbidden"
    finally:
        await observer.close()


async def test_reconnect_rejoins_without_a_second_admission(call: LiveCall) -> None:
    await call.flowing()
    rejoin = call.parent.rejoin
    assert rejoin
    pid = call.parent.participant_id
    await call.parent.drop()
    loop = asyncio.get_running_loop()
    back_at = loop.time()
    await call.parent.join(rejoin=rejoin)
    welcome = await call.parent.expect("welcome")
    assert welcome["lobby"] is False
    assert welcome["participant_id"] == pid
    await call.parent.wait_media_from(call.therapist.participant_id or "", frames=10, within=10)
    await call.therapist.wait_media_from(pid or "", frames=10, within=10)
    assert loop.time() - back_at < 10


async def test_a_client_silent_past_its_heartbeat_is_taken_for_gone(
    call: LiveCall, server: LiveServer
) -> None:
    """A cut link never closes its socket: the client promised a message every second, so
    2.5 s of silence closes it (4008) and the others see it reconnecting at once."""
    token = join_token(call.urls["observer"])
    quiet = ProtocolClient(
        server.base_url, call.session_id, token=token, publish=False, heartbeat=1
    )
    try:
        await admit(call.therapist, quiet)
        silent_from = asyncio.get_running_loop().time()
        assert await quiet.wait_closed(within=6) == 4008
        assert asyncio.get_running_loop().time() - silent_from >= 2.0
        await call.therapist.expect_matching(
            "participants",
            lambda m: any(
                p["participant_id"] == quiet.participant_id and p["status"] == "reconnecting"
                for p in m["participants"]
            ),
        )
        # The therapist promised nothing and is still there.
        await call.therapist.send({"type": "ping"})
        await call.therapist.expect("pong")
    finally:
        await quiet.close()


async def test_the_same_link_on_another_device_knocks_again(
    call: LiveCall, server: LiveServer
) -> None:
    token = join_token(call.urls["parent"])
    other = ProtocolClient(server.base_url, call.session_id, token=token)
    try:
        # A copied rejoin credential does not work from another device either.
        await other.join(rejoin=call.parent.rejoin)
        welcome = await other.expect("welcome")
        assert welcome["lobby"] is True
    finally:
        await other.close()


async def test_ending_the_session_closes_everyone_and_refuses_rejoin(
    call: LiveCall, server: LiveServer
) -> None:
    await call.flowing(frames=5)
    await call.therapist.send({"type": "end"})
    await call.parent.expect("ended")
    assert await call.parent.wait_closed() == 4002
    again = ProtocolClient(server.base_url, call.session_id, token=join_token(call.urls["parent"]))
    try:
        await again.join()
        assert await again.wait_closed() == 4410
    finally:
        await again.close()
    page = await asyncio.to_thread(httpx.get, call.urls["parent"], headers={"accept": "text/html"})
    assert page.status_code == 410


async def test_bad_input_is_refused_and_other_sessions_keep_running(
    call: LiveCall, server: LiveServer, therapist_http: httpx.Client
) -> None:
    await call.flowing(frames=5)
    other_id, other_urls = await asyncio.to_thread(start_session, therapist_http, title="Other")
    other_token = join_token(other_urls["parent"])

    async def attempt(**kwargs: Any) -> ProtocolClient:
        client = ProtocolClient(server.base_url, other_id, **kwargs)
        await client.connect()
        return client

    async def still_flowing() -> None:
        await call.therapist.wait_media_from(call.parent.participant_id or "", frames=5)

    # Malformed JSON and an unknown type: an error each, the connection stays.
    c = await attempt(token=other_token)
    await c.send("{not json")
    assert (await c.expect("error"))["code"] == "bad_json"
    await c.send({"type": "teleport"})
    assert (await c.expect("error"))["code"] == "unknown_type"
    await c.close()
    await still_flowing()

    # Nested 20,000 deep: refused like any invalid frame, no traceback in the server log.
    c = await attempt(token=other_token)
    await c.send('{"type": "ping", "x": ' + "[" * 20_000 + "]" * 20_000 + "}")
    assert (await c.expect("error"))["code"] == "invalid_message"
    await c.close()

    # A binary frame is not part of the protocol: closed with 1003.
    c = await attempt(token=other_token)
    assert c.ws is not None
    await c.ws.send(b'{"type": "ping"}')
    assert await c.wait_closed() == 1003
    await still_flowing()

    # Over 64 KiB: closed with 1009.
    c = await attempt(token=other_token)
    await c.send("x" * (64 * 1024 + 10))
    assert await c.wait_closed() == 1009
    await still_flowing()

    # A flood: closed with 1008.
    c = await attempt(token=other_token)
    for _ in range(200):
        try:
            await c.send({"type": "ping"})
        except Exception:
            break
    assert await c.wait_closed() == 1008
    await still_flowing()

    # Wrong role: a parent cannot end the session.
    assert call.parent.rejoin
    await call.parent.send({"type": "end"})
    assert (await call.parent.expect("error"))["code"] == "forbidden"
    await still_flowing()

    # A tampered link is refused (403), a revoked one is gone (410).
    c = await attempt(token=other_token[:-3] + "abc")
    await c.join()
    assert await c.wait_closed() == 4403
    await c.close()

    def revoke_first_link() -> int:
        console = therapist_http.get(f"/sessions/{other_id}").text
        link_id = re.search(r"/links/([^/]+)/revoke", console)
        assert link_id
        return therapist_http.post(
            f"/sessions/{other_id}/links/{link_id.group(1)}/revoke",
            data={"csrf_token": csrf_token(therapist_http, f"/sessions/{other_id}")},
        ).status_code

    assert await asyncio.to_thread(revoke_first_link) == 303
    c = await attempt(token=other_token)
    await c.join()
    assert await c.wait_closed() == 4410
    await c.close()
    await still_flowing()

    # A foreign Origin never gets a socket.
    c = ProtocolClient(server.base_url, other_id, token=other_token, origin="https://evil.test")
    with pytest.raises(Exception, match=r"403|1008|rejected"):
        await c.connect()
    await still_flowing()
    assert "Traceback" not in server.log()


def test_join_page_refuses_bad_links_with_clear_pages(
    server: LiveServer, therapist_http: httpx.Client
) -> None:
    session_id, urls = start_session(therapist_http, title="Page checks")
    ok = httpx.get(urls["parent"], headers={"accept": "text/html"})
    assert ok.status_code == 200
    assert "Join the session" in ok.text
    tampered = httpx.get(urls["parent"][:-4] + "AAAA", headers={"accept": "text/html"})
    assert tampered.status_code == 403
    assert "not valid" in tampered.text
    assert "Traceback" not in tampered.text
    other_id, _ = start_session(therapist_http, title="Another")
    wrong_session = urls["parent"].replace(session_id, other_id)
    assert httpx.get(wrong_session, headers={"accept": "text/html"}).status_code == 403
    end = therapist_http.post(
        f"/sessions/{session_id}/end",
        data={"csrf_token": csrf_token(therapist_http, f"/sessions/{session_id}")},
    )
    assert end.status_code == 303
    gone = httpx.get(urls["observer"], headers={"accept": "text/html"})
    assert gone.status_code == 410
    assert "Ask your therapist for a new link" in gone.text


def test_relay_figures_are_exported(server: LiveServer) -> None:
    for name in ("tandem_relay_rooms", "tandem_relay_peers", "tandem_signaling_connections"):
        assert relay_metric(server.base_url, name) >= 0
    assert Path(server.log_path).exists()
