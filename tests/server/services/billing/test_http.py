"""Billing through the app: signing proposes the charge, review and confirm, the month's list,
the documents out, the health page's billed totals, setup forms, and who may see what."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from billing_world import BillingWorld, make_billing_world
from pypdf import PdfReader
from sqlalchemy import select
from starlette.testclient import TestClient

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, AuditEntry
from server.services.billing.coverage import end_coverage

HTML = {"accept": "text/html"}
VISIT = datetime(2026, 10, 7, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Chicago


def run(settings: Settings, job: Any) -> Any:
    async def go() -> Any:
        engine = make_engine(settings.database_url)
        try:
            return await job(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def on(settings: Settings, world: BillingWorld, job: Any) -> Any:
    """Runs ``job(world)`` in a loop of its own, the world bound to a fresh engine of it."""

    async def go(db: Any) -> Any:
        world.doc.db = db
        return await job(world)

    return run(settings, go)


def world_signed_in(client: TestClient, helpers: Any, settings: Settings) -> BillingWorld:
    world: BillingWorld = run(settings, make_billing_world)
    helpers.login(client, world.doc.therapist.email, "correct-horse-1")
    return world


def test_sign_review_confirm_and_see_it_billed(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world = world_signed_in(client, helpers, settings)
    note = on(settings, world, lambda w: w.document(VISIT, [], sign=False))
    note_url = f"/notes/{note.id}"
    page = client.get(note_url, headers=HTML)
    assert 'name="proc-code-0"' in page.text
    assert 'type="datetime-local"' in page.text
    signed = client.post(
        f"{note_url}/sign",
        data=helpers.form(client, note_url, **{"proc-code-0": "97110", "proc-minutes-0": "24",
                                               "proc-code-1": "97530", "proc-minutes-1": "23"}),
    )  # fmt: skip
    assert signed.status_code == 303
    charge_url = signed.headers["location"]
    assert charge_url.startswith("/billing/charges/")
    review = client.get(charge_url, headers=HTML)
    assert "Proposed" in review.text
    assert 'id="confirm-charge"' in review.text
    assert re.search(r'data-code="97110">.*?value="GO 95".*?value="2"', review.text, re.S)
    assert re.search(r'data-code="97530">.*?value="GO 95".*?value="1"', review.text, re.S)
    assert '<strong id="pos">10</strong>' in review.text
    # The note page links its charge.
    assert charge_url in client.get(note_url, headers=HTML).text

    confirmed = client.post(f"{charge_url}/confirm", data=helpers.form(client, charge_url))
    assert confirmed.status_code == 303
    shown = client.get(charge_url, headers=HTML).text
    assert 'id="charge-status">Confirmed' in shown
    assert 'id="confirm-charge"' not in shown
    month = client.get("/billing?month=2026-10", headers=HTML).text
    assert "$170.00" in month
    assert "Maya Okafor" in month

    # Week and month totals on the schedule health page: billed, with no projection left.
    health = client.get("/schedule/health?week=2026-10-05", headers=HTML).text
    row = re.search(r'data-period="week" data-mode="telehealth">(.*?)</tr>', health, re.S)
    assert row is not None
    assert '<td class="billed">$170' in row.group(1)
    assert '<td class="projected">$0</td>' in row.group(1)
    assert re.search(r'data-period="month" data-mode="telehealth">.*?\$170', health, re.S)

    x12 = client.get("/billing/claims.837p?from=2026-10-01&to=2026-10-31")
    assert x12.status_code == 200
    assert "SV1*HC:97110:GO:95*110*UN*2" in x12.text
    ledger = client.get("/billing/ledger.csv?month=2026-10")
    assert ledger.status_code == 200
    assert ledger.text.count("\n") == 3
    # Insurance: no superbill for Maya (she is not private pay).
    superbill = f"/billing/superbill/{world.doc.client.id}?month=2026-10"
    assert client.get(superbill).status_code == 404
    actions = run(settings, lambda db: _actions(db, world))
    assert {"charge.propose", "charge.confirm", "charge.read", "billing.totals",
            "billing.export_837p", "billing.export_csv"} <= actions  # fmt: skip


async def _actions(db: Any, world: BillingWorld) -> set[str]:
    async with db() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor_id == str(world.doc.therapist.id))
        )
        return set(rows)


async def _refusals(db: Any, charge_id: str) -> list[tuple[str, str]]:
    async with db() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_id == charge_id, AuditEntry.outcome == "refused")
            .order_by(AuditEntry.at)
        )
        return [(r.action, r.detail["reason"]) for r in rows]


def test_projected_where_nothing_is_billed_yet(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world = world_signed_in(client, helpers, settings)

    async def booked(db: Any) -> None:
        async with transaction(db) as session:
            for days, cents in ((0, 12_000), (1, 9_500)):
                session.add(Appointment(
                    therapist_id=world.doc.therapist.id, client_id=world.doc.client.id,
                    starts_at=VISIT + timedelta(days=days, hours=4),
                    ends_at=VISIT + timedelta(days=days, hours=5), mode="in_person",
                    client_state="IL", service_type="ot_treatment", status="booked",
                    rate_cents=cents, overridden=[],
                ))  # fmt: skip

    run(settings, booked)
    health = client.get("/schedule/health?week=2026-10-05", headers=HTML).text
    row = re.search(r'data-period="week" data-mode="in_person">(.*?)</tr>', health, re.S)
    assert row is not None
    assert '<td class="billed">$0</td>' in row.group(1)
    assert '<td class="projected">$215</td>' in row.group(1)


def test_private_pay_superbill_download(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world = world_signed_in(client, helpers, settings)

    async def private(db: Any) -> None:
        async with transaction(db) as session:
            await end_coverage(session, world.doc.client, VISIT.date() - timedelta(days=30),
                               world.doc.actor)  # fmt: skip

    run(settings, private)
    note = on(settings, world, lambda w: w.document(VISIT, [("97530", "40")]))
    charge = on(settings, world, lambda w: w.charge(note))
    url = f"/billing/charges/{charge.id}"
    assert client.post(f"{url}/confirm", data=helpers.form(client, url)).status_code == 303
    month = client.get("/billing?month=2026-10", headers=HTML).text
    assert "Private pay" in month
    assert "Superbill (PDF): Maya Okafor" in month
    pdf = client.get(f"/billing/superbill/{world.doc.client.id}?month=2026-10")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "97530" in text
    assert "$180.00" in text
    assert "Total charges" in text


def test_correct_from_the_page_and_others_see_nothing(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world = world_signed_in(client, helpers, settings)
    note = on(settings, world, lambda w: w.document(VISIT, [("97530", "38")]))
    charge = on(settings, world, lambda w: w.charge(note))
    url = f"/billing/charges/{charge.id}"
    client.post(f"{url}/confirm", data=helpers.form(client, url))
    again = client.post(f"{url}/confirm", data=helpers.form(client, url))
    assert again.status_code == 409
    edit = client.post(url, data=helpers.form(client, url))
    assert edit.status_code == 409
    # Both refusals of a change to a confirmed charge are in the audit log.
    refused = run(settings, lambda db: _refusals(db, str(charge.id)))
    assert refused == [("charge.confirm", "confirmed"), ("charge.update", "confirmed")]
    corrected = client.post(f"{url}/correct", data=helpers.form(client, url, reason="Units"))
    assert corrected.status_code == 303
    replacement = client.get(corrected.headers["location"], headers=HTML).text
    assert "Proposed" in replacement
    assert "Original" in replacement
    assert "Corrected: reversed and replaced" in client.get(url, headers=HTML).text

    email, password = helpers.make_user()
    client.cookies.clear()
    helpers.login(client, email, password)
    assert client.get(url, headers=HTML).status_code == 404
    assert client.get("/billing?month=2026-10", headers=HTML).text.count("Maya Okafor") == 0


def test_setup_and_client_billing_forms(
    client: TestClient, helpers: Any, settings: Settings
) -> None:
    world = world_signed_in(client, helpers, settings)
    setup = client.get("/billing/setup", headers=HTML)
    assert setup.status_code == 200
    assert "Prairie Health" in setup.text
    bad = client.post("/billing/setup/practice", data=helpers.form(
        client, "/billing/setup", practice_name="P", billing_npi="1234567890"))  # fmt: skip
    assert bad.status_code == 422
    assert "An NPI is 10 digits with a valid check digit." in bad.text
    good = client.post("/billing/setup/practice", data=helpers.form(
        client, "/billing/setup", practice_name="P", billing_npi="1234567893",
        late_entry_hours="48", kx_threshold="2480"))  # fmt: skip
    assert good.status_code == 303
    payer = client.post("/billing/setup/payers", data=helpers.form(
        client, "/billing/setup", name="Lakes Care", payer_code="LAKES", telehealth_modifier="GT",
        pos_rule="always_02", rate_rule="separate", claim_filing_code="CI"))  # fmt: skip
    assert payer.status_code == 303
    fee = client.post("/billing/setup/fees", data=helpers.form(
        client, "/billing/setup", code="97530", mode="telehealth", amount="44"))  # fmt: skip
    assert fee.status_code == 303
    page = client.get("/billing/setup", headers=HTML).text
    assert "Lakes Care" in page
    assert "$44.00" in page
    assert 'value="48"' in page
    billing = f"/clients/{world.doc.client.id}/billing"
    assert "PH-448812" in client.get(billing, headers=HTML).text
    missing = client.post(f"{billing}/authorizations", data=helpers.form(
        client, billing, payer_id=str(world.payer.id), number="", visits_allowed="x"))  # fmt: skip
    assert missing.status_code == 422
    added = client.post(f"{billing}/authorizations", data=helpers.form(
        client, billing, payer_id=str(world.payer.id), number="A-9", visits_allowed="12",
        starts_on="2026-10-01", ends_on="2026-12-31"))  # fmt: skip
    assert added.status_code == 303
    assert "A-9" in client.get(billing, headers=HTML).text
