"""`tandem demo` shows billing working: a practice with valid (fake) identifiers, charged visits
whose 837P passes pyx12, one charge held back with its reason, a superbill, and Maya's draft
note ready to propose a telehealth charge when signed."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pyx12.params
import pyx12.x12n_document
from sqlalchemy import func, select

from server.config import Settings
from server.db import make_engine, make_sessionmaker, transaction, utcnow
from server.demo import DEMO_EMAIL, seed_demo
from server.models import Charge, Client, Note, User
from server.services.audit import Actor
from server.services.billing.charges import propose_charge
from server.services.billing.claims import export_837p
from server.services.billing.common import npi_is_valid
from server.services.billing.practice import get_practice
from server.services.billing.superbill import make_superbill


def test_demo_billing_is_seeded_idempotently(settings: Settings) -> None:
    async def run() -> None:
        await seed_demo(settings, "http://127.0.0.1:8000")
        info = await seed_demo(settings, "http://127.0.0.1:8000")
        assert any("/billing" in line for line in info.extra_lines)
        engine = make_engine(settings.database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                therapist = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
                assert therapist is not None
                actor = Actor("user", str(therapist.id), therapist.email)
                practice = await get_practice(session, therapist)
                assert npi_is_valid(practice.billing_npi)
                assert npi_is_valid(practice.rendering_npi)
                count = await session.scalar(
                    select(func.count(Charge.id)).where(Charge.therapist_id == therapist.id)
                )
                assert count == 3  # once, however many runs
                today = utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()
                start = today - timedelta(days=10)
                export = await export_837p(session, therapist, start, today, actor)
                report = io.StringIO()
                valid = pyx12.x12n_document.x12n_document(
                    pyx12.params.params(), io.StringIO(export.text), io.StringIO(), None,
                    fd_json=report,
                )  # fmt: skip
                assert valid, report.getvalue()
                assert '"err_str"' not in report.getvalue()
                assert len(export.claims) == 1  # Leo's Medicaid visit
                ((_held, problems),) = export.held
                assert [p.code for p in problems] == ["authorization"]  # Sam's
                priya = await session.scalar(select(Client).where(
                    Client.therapist_id == therapist.id, Client.first_name == "Priya"))  # fmt: skip
                assert priya is not None
                await session.refresh(priya, ["caregivers"])
                bill = await make_superbill(session, therapist, priya, start, today, actor)
                assert len(bill.charges) == 1
            # Maya's demo telehealth note carries procedures: its charge would be POS 10 with
            # GO 95. Looked at in a transaction rolled back, since other demo tests share this
            # practice (one of them signs that note).
            async with make_sessionmaker(engine)() as session:
                therapist = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
                assert therapist is not None
                demo_visit = (Note.author_id == therapist.id, Note.video_session_id.is_not(None))
                note = await session.scalar(select(Note).where(*demo_visit))
                assert note is not None
                assert note.procedures == [
                    {"code": "97530", "minutes": 30}, {"code": "97535", "minutes": 14}
                ]  # fmt: skip
                charge = await propose_charge(session, therapist, note, actor)
                assert charge is not None
                assert charge.place_of_service == "10"
                assert [(ln.code, ln.modifiers, ln.units) for ln in charge.lines] == [
                    ("97530", ["GO", "95"], 2), ("97535", ["GO", "95"], 1)
                ]  # fmt: skip
                await session.rollback()
        finally:
            await engine.dispose()

    asyncio.run(run())
