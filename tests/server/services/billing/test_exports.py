"""What leaves the practice: the checks that hold a charge back, the 837P (validated by pyx12),
`tandem billing export-837p`, the superbill PDF (its text read back with pypdf), the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pyx12.params
import pyx12.x12n_document
from billing_world import BillingWorld, make_billing_world
from pypdf import PdfReader
from sqlalchemy import select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction
from server.models import Appointment, Charge, ChartConsent, Client
from server.services.billing.charges import confirm_charge, get_charge_for
from server.services.billing.checks import charge_problems
from server.services.billing.claims import export_837p
from server.services.billing.coverage import (
    AuthorizationInput,
    CoverageInput,
    add_authorization,
    end_coverage,
    set_coverage,
)
from server.services.billing.ledger import ledger_csv
from server.services.billing.superbill import make_superbill
from server.services.clients import AddressInput, ClientInput, create_client
from server.services.documentation.chart import add_diagnosis
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note

VISIT = datetime(2026, 10, 5, 15, 0, tzinfo=UTC)  # Monday 10:00 in Chicago
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def x12_check(text: str) -> tuple[bool, list[str], str]:
    """pyx12's validation: (valid, every error message, the 999 acknowledgment)."""
    found: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for error in node.get("errors", []):
                found.append(error["err_str"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    report, ack = io.StringIO(), io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        pyx12.params.params(), io.StringIO(text), ack, None, fd_json=report
    )
    collect(json.loads(report.getvalue()))
    return valid, found, ack.getvalue()


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[BillingWorld]:
    engine = make_engine(settings.database_url)
    yield await make_billing_world(make_sessionmaker(engine))
    await engine.dispose()


async def confirm(world: BillingWorld, charge: Charge) -> Charge:
    async with transaction(world.db) as session:
        loaded = await get_charge_for(session, world.doc.therapist, charge.id, world.doc.actor)
        return await confirm_charge(session, world.doc.therapist, loaded, world.doc.actor)


async def charged(world: BillingWorld, at: datetime, procedures: list[tuple[str, str]],
                  **kw: Any) -> Charge:  # fmt: skip
    return await confirm(world, await world.charge(await world.document(at, procedures, **kw)))


async def self_subscriber(world: BillingWorld) -> Client:
    """A second client who is the subscriber of their own plan (SBR02 18, no patient loop)."""
    async with transaction(world.db) as session:
        therapist = world.doc.therapist
        session.add(therapist)
        client = await create_client(
            session, therapist,
            ClientInput("Leo", "Brandt", "2020-09-03", "America/Chicago", "WI", "", [],
                        AddressInput("48 Lakeview Rd", "Madison", "53703")),
            world.doc.actor,
        )  # fmt: skip
        await set_coverage(
            session, therapist, client,
            CoverageInput(str(world.payer.id), "MCD7712", "", "self", "", "", "", "2026-01-01"),
            world.doc.actor,
        )  # fmt: skip
        await add_diagnosis(session, client, "R63.3", "Feeding difficulties", world.doc.actor)
        return client


async def test_an_837p_of_several_claims_passes_pyx12(world: BillingWorld) -> None:
    await charged(world, VISIT, [("97110", "24"), ("97530", "23")])
    await charged(world, VISIT + timedelta(days=2), [("97530", "38")], mode="in_person")
    await charged(world, VISIT + timedelta(days=4), [("97166", "")], at_home="no")
    leo = await self_subscriber(world)
    leo_visit = await world.doc.visit(VISIT + timedelta(days=3), mode="in_person")
    async with transaction(world.db) as session:
        appt = await session.get(Appointment, leo_visit.id)
        assert appt is not None
        appt.client_id = leo.id
        await session.flush()
        await session.refresh(appt, ["client"])
        note = await draft_note(session, world.doc.therapist, appt, world.doc.actor)
        await update_note(session, world.doc.therapist, note,
                          NoteEdit(objective="Feeding.", procedures=[("97166", "")]),
                          world.doc.actor)  # fmt: skip
        await sign_note(session, world.doc.therapist, note, world.doc.actor,
                        now=VISIT + timedelta(days=3, hours=2))  # fmt: skip
    await confirm(world, await world.charge(note))
    async with transaction(world.db) as session:
        session.add(world.doc.therapist)
        export = await export_837p(session, world.doc.therapist, *OCTOBER, world.doc.actor,
                                   now=datetime(2026, 11, 2, 9, 30, tzinfo=UTC))  # fmt: skip
    assert export.held == []
    assert len(export.claims) == 4
    valid, errors, ack = x12_check(export.text)
    assert (valid, errors) == (True, []), export.text
    assert "IK5*A" in ack
    assert "AK9*A*1*1*1" in ack
    segments = export.text.splitlines()
    assert sum(s.startswith("CLM*") for s in segments) == 4
    assert any(s.endswith("*10:B:1*Y*A*Y*Y~") for s in segments)  # telehealth at home
    assert any(s.endswith("*02:B:1*Y*A*Y*Y~") for s in segments)  # telehealth elsewhere
    assert any(s.endswith("*11:B:1*Y*A*Y*Y~") for s in segments)  # in person
    assert "SV1*HC:97110:GO:95*110*UN*2***1:2~" in segments
    assert "HI*ABK:F82*ABF:R6250~" in segments
    assert "PAT*19~" in segments  # Maya is the child of the subscriber
    assert "SBR*P*18*******CI~" in segments  # Leo is his own subscriber
    assert "SV1*HC:97166:GO*190*UN*1***1~" in segments  # his evaluation, in person
    # And pyx12 is not a rubber stamp: the same file with a bad unit code fails.
    broken = export.text.replace("*UN*", "*XX*", 1)
    assert x12_check(broken)[0] is False


async def test_checks_hold_a_charge_back(world: BillingWorld) -> None:
    therapist, actor = world.doc.therapist, world.doc.actor
    # A charge on a note that is not signed (proposed straight from the draft).
    draft = await world.document(VISIT, [("97530", "30")], sign=False)
    unsigned = await world.charge(draft)
    # A code the plan of care does not cover.
    off_plan = await world.charge(await world.document(VISIT + timedelta(days=1),
                                                       [("92507", "30")]))  # fmt: skip
    async with transaction(world.db) as session:
        first = await session.get(Charge, unsigned.id)
        second = await session.get(Charge, off_plan.id)
        assert first is not None
        assert second is not None
        codes = {p.code for p in await charge_problems(session, first)}
        assert "unsigned_note" in codes
        assert {p.code for p in await charge_problems(session, second)} == {"plan_codes"}
    # Telehealth without consent on file: signing needs it, so the chart's consents are revoked
    # afterwards as of before the visit (recorded in error), and the note is silent.
    no_consent = await world.charge(await world.document(VISIT + timedelta(days=2),
                                                         [("97530", "30")]))  # fmt: skip
    async with transaction(world.db) as session:
        consents = list(
            await session.scalars(
                select(ChartConsent).where(ChartConsent.client_id == world.doc.client.id)
            )
        )
        assert consents
        for consent in consents:
            consent.revoked_at = VISIT - timedelta(days=1)
    async with transaction(world.db) as session:
        loaded = await session.get(Charge, no_consent.id)
        assert loaded is not None
        problems = await charge_problems(session, loaded)
        assert [p.code for p in problems] == ["telehealth_consent"]
        # Out of authorized visits: 1 visit authorized, this is the second standing one.
        session.add(therapist)
        await add_authorization(session, therapist, world.doc.client, AuthorizationInput(
            str(world.payer.id), "AUTH-1", "1", "2026-10-01", "2026-10-31"), actor)  # fmt: skip
    await confirm(world, off_plan)
    async with transaction(world.db) as session:
        loaded = await session.get(Charge, no_consent.id)
        assert loaded is not None
        messages = [p.message for p in await charge_problems(session, loaded)]
        assert "Out of authorized visits: this is visit 2 of 1 (authorization AUTH-1)." in messages
    # Flagged charges are listed, never written into the 837P.
    await confirm(world, no_consent)
    async with transaction(world.db) as session:
        session.add(therapist)
        export = await export_837p(session, therapist, *OCTOBER, actor)
        csv_text = await ledger_csv(session, therapist, *OCTOBER, actor)
    assert export.text == ""
    assert export.claims == []
    assert {c.id for c, _ in export.held} == {off_plan.id, no_consent.id}
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {r["claim_number"] for r in rows} == {off_plan.claim_number, no_consent.claim_number}
    assert all(r["flags"] for r in rows)


async def test_superbill_pdf_carries_lines_codes_and_totals(world: BillingWorld) -> None:
    async with transaction(world.db) as session:
        await end_coverage(session, world.doc.client, date(2026, 9, 30), world.doc.actor)
    await charged(world, VISIT, [("97110", "24"), ("97530", "23")])
    await charged(world, VISIT + timedelta(days=7), [("97535", "30")], mode="in_person")
    async with transaction(world.db) as session:
        client = await session.get(Client, world.doc.client.id)
        assert client is not None
        await session.refresh(client, ["caregivers"])
        session.add(world.doc.therapist)
        bill = await make_superbill(session, world.doc.therapist, client, *OCTOBER,
                                    world.doc.actor)  # fmt: skip
    assert bill.pdf.startswith(b"%PDF-")
    assert len(bill.charges) == 2
    assert bill.held == []
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(bill.pdf)).pages)
    for expected in (
        "Superbill",
        "Avery Pediatric Therapy",
        "Maya Okafor",
        "Ada Okafor",
        "F82",
        "R62.50",
        "10/05/2026",
        "10/12/2026",
        "97110",
        "GO 95",
        "$55.00",
        "$110.00",  # 97110: 2 units at $55
        "97530",
        "$60.00",
        "97535",
        "$105.00",  # 97535: 2 units at $52.50, in person (POS 11, no 95)
        "Total charges",
        "$275.00",
        "Tax ID 071234567",
        "NPI 2999999909",
    ):
        assert expected in text, expected
    assert "10 Telehealth, client at home" in text
    assert "11 Office" in text


def test_cli_writes_the_837p_of_the_range(settings: Settings, tmp_path: Path) -> None:
    async def seed() -> str:
        engine = make_engine(settings.database_url)
        try:
            world = await make_billing_world(make_sessionmaker(engine))
            await charged(world, VISIT, [("97530", "45")])
            await charged(world, VISIT + timedelta(days=1), [("97110", "20")], mode="in_person")
            # A third, held back: outside the plan's codes.
            await charged(world, VISIT + timedelta(days=2), [("92507", "30")])
            return world.doc.therapist.email
        finally:
            await engine.dispose()

    email = asyncio.run(seed())
    out = tmp_path / "claims.x12"
    env = {
        **os.environ,
        "TANDEM_DATABASE_URL": settings.database_url,
        "TANDEM_VAR_DIR": str(tmp_path / "var"),
        "TANDEM_SECRET_KEY": settings.secret_key,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tandem", "billing", "export-837p", "--from", "2026-10-01",
         "--to", "2026-10-31", "--out", str(out), "--therapist", email],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # something was held back: not silent
    assert "held back" in done.stderr
    assert "92507" in done.stderr
    assert "wrote 2 claims" in done.stdout
    valid, errors, _ = x12_check(out.read_text())
    assert (valid, errors) == (True, [])
    csv_out = tmp_path / "charges.csv"
    done = subprocess.run(
        [sys.executable, "-m", "tandem", "billing", "export-csv", "--from", "2026-10-01",
         "--to", "2026-10-31", "--out", str(csv_out), "--therapist", email],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader(csv_out.open()))) == 3
