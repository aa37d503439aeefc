from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fast_passwords import FAST_HASHER, FAST_PASSWORDS  # tests/support
from s3 import moto_server  # tests/support
from smtp_inbox import Mailbox  # tests/support
from starlette.testclient import TestClient

from server.config import Settings, load_settings
from server.db import make_engine, make_sessionmaker, transaction
from server.migrate import upgrade
from server.models import UserRole
from server.services.accounts import create_user
from server.wiring import build_app


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every database test runs on both backends, each migrated with the real migrations."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'tandem.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {
            "TANDEM_DATABASE_URL": database_url,
            "TANDEM_VAR_DIR": str(tmp_path / "var"),
            "TANDEM_SECRET_KEY": secrets.token_urlsafe(40),
            "TANDEM_LOG_FORMAT": "text",
        },
        dotenv=None,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = build_app(settings)
    with TestClient(app, follow_redirects=False) as test_client:
        app.state.tandem.passwords.hasher = FAST_HASHER
        yield test_client


def make_user(
    settings: Settings, role: UserRole = UserRole.therapist, password: str = "correct-horse-1"
) -> tuple[str, str]:
    email = f"user-{secrets.token_hex(4)}@example.test"

    async def run() -> None:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            await create_user(
                session,
                FAST_PASSWORDS,
                email=email,
                name="Test Person",
                password=password,
                role=role,
            )
        await engine.dispose()

    asyncio.run(run())
    return email, password


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, email: str, password: str) -> None:
    page = client.get("/login")
    if page.status_code == 303:  # already signed in: any page carries the token
        page = client.get(page.headers["location"], headers={"accept": "text/html"})
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
    )
    assert response.status_code == 303, response.text


class Helpers:
    """Test helpers as a fixture: importlib mode keeps test modules from importing conftest."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def make_user(
        self, role: UserRole = UserRole.therapist, password: str = "correct-horse-1"
    ) -> tuple[str, str]:
        return make_user(self.settings, role, password)

    csrf_from = staticmethod(csrf_from)
    login = staticmethod(login)

    def form(self, client: TestClient, page_url: str, **fields: str) -> dict[str, str]:
        page = client.get(page_url, headers={"accept": "text/html"}, follow_redirects=True)
        return {"csrf_token": csrf_from(page.text), **fields}


@pytest.fixture
def helpers(settings: Settings) -> Helpers:
    return Helpers(settings)


@pytest.fixture
def therapist(client: TestClient, settings: Settings) -> tuple[str, str]:
    email, password = make_user(settings)
    login(client, email, password)
    return email, password


@pytest.fixture
def https_settings(settings: Settings) -> Settings:
    return replace(settings, public_base_url="https://tandem.example.test")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) in this process, for the outbox to send to."""
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server mode, an S3 emulator speaking the S3 API over HTTP (one for the run: each
    test makes a bucket of its own)."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint
