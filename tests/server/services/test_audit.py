from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import AuditEntry, UserRole
from server.services.audit import Actor, record_audit


def test_refused_requests_keep_their_audit_row_despite_a_rollback(settings: Settings) -> None:
    async def run() -> int:
        engine = make_engine(settings.database_url)
        factory = make_sessionmaker(engine)
        marker = "test.rollback-survivor"
        with pytest.raises(RuntimeError):
            async with transaction(factory):
                await record_audit(factory, Actor.system(), marker, outcome="refused")
                raise RuntimeError("the request failed")
        async with factory() as session:
            count = len(
                (
                    await session.execute(
                        text("SELECT id FROM audit_log WHERE action = :a"), {"a": marker}
                    )
                ).all()
            )
        await engine.dispose()
        return count

    assert asyncio.run(run()) == 1


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_audit_log_is_append_only_in_the_database(settings: Settings, statement: str) -> None:
    async def run() -> None:
        engine = make_engine(settings.database_url)
        factory = make_sessionmaker(engine)
        await record_audit(factory, Actor.system(), "test.append-only")
        stmt = (
            update(AuditEntry).values(action="tampered")
            if statement == "update"
            else delete(AuditEntry)
        )
        try:
            with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
                async with transaction(factory) as session:
                    await session.execute(stmt)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_admin_page_lists_and_filters(client: TestClient, helpers: Any) -> None:
    email, password = helpers.make_user(UserRole.admin)
    helpers.login(client, email, password)
    page = client.get("/admin/audit", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "auth.login" in page.text
    filtered = client.get("/admin/audit?action=client.&outcome=ok", headers={"accept": "text/html"})
    assert filtered.status_code == 200
    assert "<code>auth.login</code>" not in filtered.text
    api = client.get("/api/v1/audit?action=auth.login").json()
    assert api["total"] >= 1
    assert all(e["action"].startswith("auth.login") for e in api["entries"])


def test_therapists_cannot_read_the_audit_log(client: TestClient, therapist: Any) -> None:
    assert client.get("/admin/audit", headers={"accept": "text/html"}).status_code == 403
    assert client.get("/api/v1/audit").status_code == 403
