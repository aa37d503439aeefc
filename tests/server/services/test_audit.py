from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import AuditEntry, UserRole
from server.services.audit import Actor, AuditLog, record_audit


def test_refused_requests_keep_their_audit_row_despite_a_rollback(settings: Settings) -> None:
    async def run() -> int:
        engine = make_engine(settings.database_url)
        factory = make_sessionmaker(engine)
        marker = "test.rollback-survivor"
        with pytest.raises(RuntimeError):
            async with transaction(factory):
                await record_audit(AuditLog(factory), Actor.system(), marker, outcome="refused")
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
        await record_audit(AuditLog(factory), Actor.system(), "test.append-only")
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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def rows_of(settings: Settings, action: str) -> list[AuditEntry]:
    async def run() -> list[AuditEntry]:
        engine = make_engine(settings.database_url)
        async with make_sessionmaker(engine)() as session:
            rows = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.at)
                )
            )
        await engine.dispose()
        return rows

    return asyncio.run(run())


def test_identical_refusals_are_one_row_then_one_summary_per_window(settings: Settings) -> None:
    action = f"test.flood-{secrets.token_hex(3)}"
    source = Actor("anonymous", None, "probe@example.test", "198.51.100.9")

    async def run() -> None:
        engine = make_engine(settings.database_url)
        clock = Clock()
        log = AuditLog(make_sessionmaker(engine), window_seconds=60, clock=clock)
        for _ in range(50):
            await log.record(source, action, outcome="refused", detail={"reason": "x"})
        await log.record(source, action, outcome="ok")  # not a refusal: always written
        assert await log.flush() == 0  # the window is still open
        clock.now = 61
        assert await log.flush() == 1
        await log.record(source, action, outcome="refused", detail={"reason": "x"})
        await engine.dispose()

    asyncio.run(run())
    rows = rows_of(settings, action)
    assert [(r.outcome, r.detail.get("repeated")) for r in rows] == [
        ("refused", None),
        ("ok", None),
        ("refused", 49),
        ("refused", None),
    ]
    assert rows[2].detail["reason"] == "x"
    assert rows[2].detail["window_seconds"] == 60


def test_a_source_probing_many_ids_writes_a_bounded_number_of_rows(settings: Settings) -> None:
    action = f"test.probe-{secrets.token_hex(3)}"
    source = Actor("user", "u-probe", "probe@example.test", "198.51.100.9")

    async def run() -> None:
        engine = make_engine(settings.database_url)
        log = AuditLog(make_sessionmaker(engine), distinct_per_source=5)
        for i in range(200):
            await log.record(source, action, object_type="client", object_id=i, outcome="refused")
        await log.flush(everything=True)
        await engine.dispose()

    asyncio.run(run())
    rows = rows_of(settings, action)
    assert len(rows) == 6
    summary = rows[-1]
    assert summary.detail["repeated"] == 195
    assert summary.detail["objects"] == 195
