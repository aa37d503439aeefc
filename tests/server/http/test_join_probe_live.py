"""The join page's connection check endpoint on a real Tandem process: a good link gets the relay's
answer and a connection that reports; bad links, bodies and offers are refused, refusals of links
audited as the join page audits them; and it is rate-limited per address."""

from __future__ import annotations

import asyncio
import html
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import TEST_PASSWORD, LiveServer, serving_with_account
from protocol_client import csrf_token, login, start_session

from media.aiortc import parse_sdp
from media.testing.probe_client import ProbeClient

EMAIL = "probe@example.test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving_with_account(tmp_path_factory.mktemp("probe"), EMAIL) as live:
        yield live


@pytest.fixture(scope="module")
def therapist_http(server: LiveServer) -> Iterator[httpx.Client]:
    http = login(server.base_url, EMAIL, TEST_PASSWORD)
    yield http
    http.close()


class Parent:
    """The parent's browser: its own cookies, and an address of its own (X-Forwarded-For from
    loopback, which uvicorn trusts), so each test has its own rate-limit window."""

    def __init__(self, server: LiveServer, join_url: str, address: str) -> None:
        self.http = httpx.Client(
            base_url=server.base_url, timeout=30, headers={"x-forwarded-for": address}
        )
        self.path = join_url.split(server.base_url, 1)[1]
        page = self.http.get(self.path, headers={"accept": "text/html"})
        assert page.status_code == 200
        # The check's status line says what it does while it runs, and carries the CSRF token.
        status = re.search(
            r'<p id="net-status"[^>]*role="status"[^>]*data-csrf="([0-9a-f]+)"', page.text
        )
        assert status, page.text
        self.csrf = status.group(1)

    def probe(self, body: Any = None, *, path: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"x-csrf-token": self.csrf, "accept": "application/json"}
        if body is not None:
            kwargs["json"] = body
        return self.http.post(f"{path or self.path}/probe", headers=headers, **kwargs)


def audit_rows(server: LiveServer, action: str) -> list[tuple[str, str, str]]:
    path = server.env["TANDEM_DATABASE_URL"].split("///", 1)[1]
    with sqlite3.connect(Path(path)) as db:
        rows = db.execute(
            "SELECT outcome, remote_addr, detail FROM audit_log WHERE action = ? ORDER BY id",
            (action,),
        ).fetchall()
    return [tuple(row) for row in rows]


def offer_sdp() -> str:
    async def make() -> str:
        client = ProbeClient()
        try:
            return await client.offer()
        finally:
            await client.close()

    return asyncio.run(make())


def test_a_good_link_gets_an_answer_that_connects_and_reports(
    server: LiveServer, therapist_http: httpx.Client
) -> None:
    _, urls = start_session(therapist_http, title="Probe: good")
    parent = Parent(server, urls["parent"], "203.0.113.1")
    before = len(audit_rows(server, "join_link.open"))

    async def check() -> dict[str, Any]:
        client = ProbeClient()
        try:
            offer = await client.offer()
            response = await asyncio.to_thread(parent.probe, {"sdp": offer})
            assert response.status_code == 200, response.text
            (media,) = parse_sdp(response.json()["sdp"]).media
            assert media.kind == "application"
            await client.accept(response.json()["sdp"])
            return await client.report()
        finally:
            await client.close()

    report = asyncio.run(check())
    assert report["connected"] is True
    assert report["local"] == "host"
    # A check is no join: nothing more was audited as one, and a good one not at all.
    assert len(audit_rows(server, "join_link.open")) == before
    assert [r for r in audit_rows(server, "join_link.probe") if r[1] == "203.0.113.1"] == []


def test_bad_links_are_refused_and_audited_like_the_join_page(
    server: LiveServer, therapist_http: httpx.Client
) -> None:
    session_id, urls = start_session(therapist_http, title="Probe: links")
    parent = Parent(server, urls["parent"], "203.0.113.2")
    offer = {"sdp": offer_sdp()}

    tampered = parent.probe(offer, path=parent.path[:-4] + "AAAA")
    assert tampered.status_code == 403
    assert "not valid" in tampered.json()["error"]["message"]
    other_id, _ = start_session(therapist_http, title="Probe: another")
    wrong_session = parent.probe(offer, path=parent.path.replace(session_id, other_id))
    assert wrong_session.status_code == 403

    console = therapist_http.get(f"/sessions/{session_id}", headers={"accept": "text/html"}).text
    link_id = re.search(r"/links/([^/]+)/revoke", html.unescape(console))
    assert link_id
    revoked = therapist_http.post(
        f"/sessions/{session_id}/links/{link_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(therapist_http, f"/sessions/{session_id}")},
    )
    assert revoked.status_code == 303
    gone = parent.probe(offer)
    assert gone.status_code == 410

    refused = [row for row in audit_rows(server, "join_link.probe") if row[1] == "203.0.113.2"]
    assert [row[0] for row in refused] == ["refused"] * 3
    assert "revoked" in refused[-1][2]
    # No CSRF token, no check (before any of the above: the middleware refuses it).
    no_token = parent.http.post(f"{parent.path}/probe", json=offer)
    assert no_token.status_code == 403


def test_bodies_and_offers_that_are_not_a_check_are_refused(
    server: LiveServer, therapist_http: httpx.Client
) -> None:
    _, urls = start_session(therapist_http, title="Probe: bodies")
    parent = Parent(server, urls["parent"], "203.0.113.3")
    good = offer_sdp()

    oversized = parent.probe({"sdp": good + "a=x:" + "x" * 30_000 + "\r\n"})
    assert oversized.status_code == 413
    not_json = parent.probe(content=b"\xff\xfe not json")
    assert not_json.status_code == 400
    no_sdp = parent.probe({"offer": good})
    assert no_sdp.status_code == 400
    garbage = parent.probe({"sdp": "v=0\r\nthis is not an offer\r\n"})
    assert garbage.status_code == 400
    media = parent.probe({"sdp": good.replace("m=application", "m=audio")})
    assert media.status_code == 400
    assert "Traceback" not in server.log()
    # None of those is about the link: nothing audited.
    assert [r for r in audit_rows(server, "join_link.probe") if r[1] == "203.0.113.3"] == []


def test_checks_are_rate_limited_per_address_and_per_link(
    server: LiveServer, therapist_http: httpx.Client
) -> None:
    _, urls = start_session(therapist_http, title="Probe: flood")
    parent = Parent(server, urls["parent"], "203.0.113.4")
    statuses = [parent.probe({"sdp": "not an offer"}).status_code for _ in range(12)]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]
    limited = parent.probe({"sdp": "not an offer"})
    assert int(limited.headers["retry-after"]) > 0
    # The link has had its checks for the minute, from wherever it is used.
    elsewhere = Parent(server, urls["parent"], "203.0.113.6")
    assert elsewhere.probe({"sdp": "not an offer"}).status_code == 429
    # Another link at another address is not held back by these windows.
    _, other_urls = start_session(therapist_http, title="Probe: neighbour")
    neighbour = Parent(server, other_urls["parent"], "203.0.113.5")
    assert neighbour.probe({"sdp": "not an offer"}).status_code == 400
