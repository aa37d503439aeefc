"""A real Tandem process killed (SIGKILL) and started again, on SQLite and on PostgreSQL: those
admitted before come back into the call without a new admission; a removal still voids its
credential; a credential copied to another device or shown to another session is refused."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live import TEST_PASSWORD, LiveServer, create_account, prepare_environment, start_server
from protocol_client import ProtocolClient, login, start_session

EMAIL = "restart-live@example.test"


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[LiveServer]]:
    """The server (a list: the test appends its restarted self)."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    env = prepare_environment(tmp_path, database_url=url)
    create_account(env, EMAIL)
    running = [start_server(env, tmp_path)]
    yield running
    running[-1].stop()


def token(url: str) -> str:
    return re.sub(r"^.*/join/[^/]+/", "", url)


async def add_link(http: httpx.Client, session_id: str, name: str) -> str:
    page = await asyncio.to_thread(
        http.get, f"/sessions/{session_id}", headers={"accept": "text/html"}
    )
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert csrf
    created = await asyncio.to_thread(
        http.post,
        f"/sessions/{session_id}/links",
        data={"csrf_token": csrf.group(1), "role": "parent", "display_name": name},
    )
    assert created.status_code == 303
    console = await asyncio.to_thread(http.get, f"/sessions/{session_id}")
    urls = re.findall(r'class="join-url" readonly value="([^"]+)"', console.text)
    return token(urls[-1].replace("&amp;", "&"))


async def admitted(therapist: ProtocolClient, guest: ProtocolClient) -> None:
    await guest.join()
    await guest.expect("welcome")
    await therapist.expect_matching(
        "lobby_update",
        lambda m: any(w["participant_id"] == guest.participant_id for w in m["waiting"]),
    )
    await therapist.send({"type": "admit", "participant_id": guest.participant_id})
    await guest.expect("admitted")


async def test_after_a_sigkill_those_admitted_rejoin_and_the_removed_stay_out(
    server: list[LiveServer],
) -> None:
    first = server[0]
    http = login(first.base_url, EMAIL, TEST_PASSWORD)
    clients: list[ProtocolClient] = []
    try:
        session_id, urls = await asyncio.to_thread(start_session, http, title="Restarted")
        other_id, _ = await asyncio.to_thread(start_session, http, title="Another")
        cookie = http.cookies["tandem_session"]
        therapist = ProtocolClient(first.base_url, session_id, cookie=cookie)
        parent = ProtocolClient(
            first.base_url, session_id, token=token(urls["parent"]), tone_hz=660
        )
        removed = ProtocolClient(
            first.base_url,
            session_id,
            token=await add_link(http, session_id, "Removed"),
            tone_hz=880,
        )
        clients += [therapist, parent, removed]
        await therapist.join()
        await therapist.expect("welcome")
        await admitted(therapist, parent)
        await admitted(therapist, removed)
        await therapist.wait_media_from(parent.participant_id or "", frames=10)
        await therapist.send({"type": "remove", "participant_id": removed.participant_id})
        assert await removed.wait_closed() == 4001
        t_id, p_id = therapist.participant_id, parent.participant_id
        credentials = {"parent": parent.rejoin, "removed": removed.rejoin}

        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        for client in clients:
            await client.close()
        http.close()
        again = start_server(first.env, first.log_path.parent, "restarted")
        server.append(again)
        base = again.base_url

        # The therapist (cookie) and the parent (credential) are back in the room: same ids.
        therapist = ProtocolClient(base, session_id, cookie=cookie)
        parent_back = ProtocolClient(
            base, session_id, token=token(urls["parent"]), client_id=parent.client_id, tone_hz=660
        )
        clients += [therapist, parent_back]
        await therapist.join()
        assert (await therapist.expect("welcome"))["participant_id"] == t_id
        await parent_back.join(rejoin=credentials["parent"])
        welcome = await parent_back.expect("welcome")
        assert (welcome["lobby"], welcome["participant_id"]) == (False, p_id)
        stopped = await parent_back.expect("recording")
        assert stopped["state"] == "off"  # nothing was recorded in this session
        await therapist.wait_media_from(p_id or "", frames=10)
        await parent_back.wait_media_from(t_id or "", frames=10)
        assert "admitted" not in [m["type"] for m in parent_back.messages]

        # The removal outlived the process: the credential alone is refused (4403).
        removed_back = ProtocolClient(base, session_id, client_id=removed.client_id)
        clients.append(removed_back)
        await removed_back.join(rejoin=credentials["removed"])
        assert (await removed_back.expect("error"))["code"] == "link_invalid"
        assert await removed_back.wait_closed() == 4403

        # The parent's credential on another device, or for another session: refused.
        copied = ProtocolClient(base, session_id)
        elsewhere = ProtocolClient(base, other_id, client_id=parent.client_id)
        clients += [copied, elsewhere]
        for client in (copied, elsewhere):
            await client.join(rejoin=credentials["parent"])
            assert (await client.expect("error"))["code"] == "link_invalid"
    finally:
        for client in clients:
            await client.close()
        http.close()
