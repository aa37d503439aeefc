from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.models import AuditEntry
from server.services.accounts import SessionPolicy, hash_token, resolve_login_session
from server.services.audit import AuditFilter, list_audit


def audit_rows(settings: Settings, **filters: Any) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            rows, _ = await list_audit(session, AuditFilter(**filters), limit=1000)
        await engine.dispose()
        return rows

    return asyncio.run(run())


def use_session(client: TestClient, token: str) -> None:
    client.cookies.delete("tandem_session")
    client.cookies.set("tandem_session", token, domain="testserver.local")


def test_login_page_renders_with_a_csrf_field(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert "tandem_csrf" in page.headers["set-cookie"]


def test_pages_need_a_signed_in_user(client: TestClient) -> None:
    response = client.get("/clients", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/clients"
    assert client.get("/api/v1/me").status_code == 401


def test_login_sets_a_hardened_cookie_and_shows_home(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user()
    response = client.post(
        "/login", data=helpers.form(client, "/login", email=email, password=password)
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "tandem_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain-http demo must still work
    home = client.get("/", headers={"accept": "text/html"})
    assert home.status_code == 200
    assert "Add your first client" in home.text
    assert client.get("/api/v1/me").json()["email"] == email


def test_cookie_is_secure_behind_https(https_settings: Settings, helpers: Any) -> None:
    email, password = helpers.make_user()
    app = create_app(https_settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        response = c.post("/login", data=helpers.form(c, "/login", email=email, password=password))
        assert response.status_code == 303
        assert "Secure" in response.headers["set-cookie"]
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_and_unknown_email_give_the_same_answer(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    email, _ = helpers.make_user()
    wrong = client.post(
        "/login", data=helpers.form(client, "/login", email=email, password="not-it-at-all")
    )
    unknown = client.post(
        "/login",
        data=helpers.form(client, "/login", email="nobody@example.test", password="whatever1"),
    )
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.text
    assert "do not match an account" in unknown.text
    assert "tandem_session" not in wrong.headers.get("set-cookie", "")
    refused = audit_rows(settings, action="auth.login", outcome="refused", actor=email)
    assert refused
    assert refused[0].detail == {"reason": "bad_credentials"}


def test_missing_or_wrong_csrf_token_is_403(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user()
    client.get("/login")
    missing = client.post("/login", data={"email": email, "password": password})
    assert missing.status_code == 403
    wrong = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": "0" * 64}
    )
    assert wrong.status_code == 403
    api = client.post("/api/v1/clients", json={"first_name": "x"})
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "csrf_failed"


def test_too_many_failed_logins_get_429_with_retry_after(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    email, password = helpers.make_user()
    for _ in range(settings.login_max_failures):
        r = client.post("/login", data=helpers.form(client, "/login", email=email, password="x1"))
        assert r.status_code == 401
    blocked = client.post(
        "/login",
        data=helpers.form(client, "/login", email=email, password=password),
        headers={"accept": "text/html"},
    )
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= settings.login_window_seconds
    assert "Too many sign-in attempts" in blocked.text
    assert audit_rows(settings, action="auth.login", outcome="refused", actor=email)[0].detail == {
        "reason": "rate_limited"
    }


def test_session_id_rotates_on_login_and_logout_ends_it(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user()
    helpers.login(client, email, password)
    first = client.cookies["tandem_session"]
    helpers.login(client, email, password)
    second = client.cookies["tandem_session"]
    assert first != second
    # The replaced session is dead even if someone kept the old cookie.
    use_session(client, first)
    assert client.get("/api/v1/me").status_code == 401
    use_session(client, second)
    assert client.get("/api/v1/me").status_code == 200
    logout = client.post("/logout", data=helpers.form(client, "/"))
    assert logout.status_code == 303
    use_session(client, second)
    assert client.get("/api/v1/me").status_code == 401


def test_idle_and_absolute_timeouts(client: TestClient, helpers: Any, settings: Settings) -> None:
    email, password = helpers.make_user()
    helpers.login(client, email, password)
    token = client.cookies["tandem_session"]
    policy = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=8))

    async def resolve(at_offset: timedelta) -> bool:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            user = await resolve_login_session(session, token, policy, now=utcnow() + at_offset)
        await engine.dispose()
        return user is not None

    assert asyncio.run(resolve(timedelta(minutes=10)))
    # Last seen was just touched at +10 min: +35 min is only 25 min idle.
    assert asyncio.run(resolve(timedelta(minutes=35)))
    assert not asyncio.run(resolve(timedelta(minutes=35) + timedelta(minutes=31)))
    assert hash_token(token)  # the stored form is a hash; the raw token is never stored


def test_absolute_timeout_ends_even_an_active_session(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    email, password = helpers.make_user()
    helpers.login(client, email, password)
    token = client.cookies["tandem_session"]
    policy = SessionPolicy(idle=timedelta(hours=100), absolute=timedelta(hours=12))

    async def resolve(at_offset: timedelta) -> bool:
        engine = make_engine(settings.database_url)
        async with transaction(make_sessionmaker(engine)) as session:
            user = await resolve_login_session(session, token, policy, now=utcnow() + at_offset)
        await engine.dispose()
        return user is not None

    assert asyncio.run(resolve(timedelta(hours=11)))
    assert not asyncio.run(resolve(timedelta(hours=13)))


def test_login_redirects_only_to_local_paths(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user()
    evil = client.post(
        "/login",
        data=helpers.form(
            client, "/login", email=email, password=password, next="//evil.example/x"
        ),
    )
    assert evil.headers["location"] == "/"
    good = client.post(
        "/login",
        data=helpers.form(client, "/login", email=email, password=password, next="/clients"),
    )
    assert good.headers["location"] == "/clients"
