from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.demo import DEMO_EMAIL, seed_demo
from server.models import Client, User
from server.ratelimit import MemoryLimiter, RedisLimiter
from server.video.runtime import video_runtime
from server.wiring import build_app


def test_healthz_reports_database_and_redis(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["redis"] == {"status": "not_configured"}


def from_loopback(client: TestClient) -> TestClient:
    """The same running app, reached from 127.0.0.1 (the test client's own peer is not an IP)."""
    return TestClient(client.app, client=("127.0.0.1", 50000))


def test_metrics_count_requests_by_route_template(client: TestClient, therapist: Any) -> None:
    client.get("/api/v1/clients/00000000-0000-0000-0000-000000000000")
    text = from_loopback(client).get("/metrics").text
    assert 'tandem_http_requests_total{method="GET",route="/api/v1/clients/{client_id}"' in text
    assert "tandem_http_request_duration_seconds_bucket" in text


def test_metrics_are_refused_off_loopback_without_a_token(client: TestClient) -> None:
    remote = TestClient(client.app, client=("203.0.113.5", 50000))
    assert remote.get("/metrics").status_code == 403
    assert from_loopback(client).get("/metrics").status_code == 200


def test_metrics_with_a_token_need_it_from_everywhere(settings: Settings) -> None:
    app = build_app(replace(settings, metrics_token="m" * 24))
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.get("/metrics").status_code == 403
        wrong = local.get("/metrics", headers={"authorization": "Bearer " + "x" * 24})
        assert wrong.status_code == 403
        remote = TestClient(app, client=("203.0.113.5", 50000))
        right = remote.get("/metrics", headers={"authorization": "Bearer " + "m" * 24})
        assert right.status_code == 200
        assert "tandem_http_requests_total" in right.text


def test_openapi_needs_sign_in(client: TestClient) -> None:
    assert client.get("/api/openapi.json").status_code == 401


def test_openapi_describes_the_api(client: TestClient, therapist: Any) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/clients" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/clients"]


def test_errors_are_pages_for_browsers_and_json_for_api(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "Page not found" in page.text
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/login").headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    # The signaling socket of this origin only (`ws:` alone would allow any host).
    assert "connect-src 'self' ws://testserver;" in headers["content-security-policy"]
    # Same-origin: our own POSTs keep a real Origin header (no-referrer would make it "null").
    assert headers["referrer-policy"] == "same-origin"


def test_pages_and_api_answers_are_never_stored_but_static_files_may_be(
    client: TestClient, therapist: Any
) -> None:
    for path in ("/clients", "/schedule", "/api/v1/clients", "/no/such/page"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    assert "cache-control" not in client.get("/static/css/app.css").headers


def test_a_public_url_sets_the_socket_origin(settings: Settings) -> None:
    app = build_app(replace(settings, public_base_url="https://tandem.example.org"))
    with TestClient(app, base_url="https://tandem.example.org") as https:
        csp = https.get("/login").headers["content-security-policy"]
    assert "connect-src 'self' wss://tandem.example.org;" in csp


def test_the_relay_offers_loopback_to_a_local_server_only(settings: Settings) -> None:
    for base_url, offered in ((None, True), ("https://tandem.example.org", False)):
        app = build_app(replace(settings, public_base_url=base_url))
        with TestClient(app):
            runtime = video_runtime(app.state.tandem)
            # (The join page's connection check is built from the same config.)
            assert runtime.relay.config.include_loopback is offered, base_url


def test_with_redis_connection_checks_are_limited_in_one_window_for_all_processes(
    settings: Settings, redis_url: str
) -> None:
    app = build_app(replace(settings, redis_url=redis_url, redis_prefix="test-probe-limit:"))
    with TestClient(app):
        assert isinstance(video_runtime(app.state.tandem).probe_limiter, RedisLimiter)
    alone = build_app(settings)
    with TestClient(alone):
        assert isinstance(video_runtime(alone.state.tandem).probe_limiter, MemoryLimiter)


def test_unsafe_requests_from_another_site_are_refused(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user()
    form = helpers.form(client, "/login", email=email, password=password)
    foreign = client.post("/login", data=form, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    sneaky = client.post("/login", data=form, headers={"sec-fetch-site": "cross-site"})
    assert sneaky.status_code == 403
    opaque = client.post("/login", data=form, headers={"origin": "null"})
    assert opaque.status_code == 403
    own = client.post("/login", data=form, headers={"origin": "http://testserver"})
    assert own.status_code == 303


def test_demo_seed_is_idempotent(settings: Settings) -> None:
    async def run() -> tuple[int, int]:
        first = await seed_demo(settings, "http://127.0.0.1:8000")
        second = await seed_demo(settings, "http://127.0.0.1:8000")
        assert first.password != second.password
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            therapist = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
            assert therapist is not None
            clients = await session.scalar(
                select(func.count(Client.id)).where(Client.therapist_id == therapist.id)
            )
            users = await session.scalar(select(func.count(User.id)))
        await engine.dispose()
        return int(clients or 0), int(users or 0)

    clients, users = asyncio.run(run())
    assert clients == 4
    assert users >= 2


def test_cli_create_user_reads_the_password_from_stdin(settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TANDEM_DATABASE_URL": settings.database_url,
        "TANDEM_VAR_DIR": str(tmp_path),
    }
    args = [sys.executable, "-m", "server.cli", "create-user", "--email", "New@Example.test",
            "--name", "New Therapist", "--password-stdin"]  # fmt: skip
    ok = subprocess.run(
        args, input="long-enough-pw\n", env=env, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "created therapist new@example.test" in ok.stdout
    again = subprocess.run(
        args, input="long-enough-pw\n", env=env, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip
    assert again.returncode == 1
    assert "already exists" in again.stderr
    short = subprocess.run(
        [*args[:5], "x@example.test", *args[6:]], input="short\n", env=env,
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr
