from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.demo import DEMO_EMAIL, seed_demo
from server.models import Client, User


def test_healthz_reports_database_and_redis(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["redis"] == {"status": "not_configured"}


def test_metrics_count_requests_by_route_template(client: TestClient, therapist: Any) -> None:
    client.get("/api/v1/clients/00000000-0000-0000-0000-000000000000")
    text = client.get("/metrics").text
    assert 'tandem_http_requests_total{method="GET",route="/api/v1/clients/{client_id}"' in text
    assert "tandem_http_request_duration_seconds_bucket" in text


def test_openapi_describes_the_api(client: TestClient) -> None:
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
