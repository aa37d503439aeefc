"""A billing test world on the real database: the documentation world (therapist, client, plan
of care) plus a practice with identifiers, a payer, the client's coverage, diagnoses, a
telehealth consent, a fee schedule, and helpers to document and charge visits.

Shared by tests/server/test_billing_*.py and the browser test (test modules cannot import
each other). Every identifier is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from doc_world import DocWorld, make_world
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.db import transaction
from server.models import Appointment, Charge, Note, Payer
from server.services.billing.charges import propose_charge
from server.services.billing.common import npi_with_check_digit
from server.services.billing.coverage import CoverageInput, set_coverage
from server.services.billing.payers import PayerInput, add_payer, set_fee
from server.services.billing.practice import PracticeInput, update_practice
from server.services.documentation.chart import add_consent, add_diagnosis
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note

PRACTICE = PracticeInput(
    practice_name="Avery Pediatric Therapy", billing_npi=npi_with_check_digit("299999990"),
    rendering_npi=npi_with_check_digit("199999990"), tax_id="071234567",
    taxonomy_code="225X00000X", address_line="100 Demo Way", city="Springfield", state="IL",
    postal_code="62701-0001", phone="555-555-0100", submitter_id="TANDEMTEST",
    receiver_id="TESTCLEARING", receiver_name="Test Clearinghouse", kx_threshold="2410",
    late_entry_hours="24",
)  # fmt: skip
FEES = {"97110": "55", "97530": "60", "97535": "52.50", "97166": "190", "92507": "120"}


@dataclass
class BillingWorld:
    doc: DocWorld
    payer: Payer

    @property
    def db(self) -> async_sessionmaker[AsyncSession]:
        return self.doc.db

    async def document(
        self,
        starts_at: datetime,
        procedures: list[tuple[str, str]],
        *,
        mode: str = "telehealth",
        at_home: str = "yes",
        sign: bool = True,
    ) -> Note:
        """A completed visit, its note with these procedures, signed unless told otherwise."""
        appt = await self.doc.visit(starts_at, mode=mode)
        async with transaction(self.db) as session:
            loaded = await session.get(Appointment, appt.id)
            assert loaded is not None
            note = await draft_note(session, self.doc.therapist, loaded, self.doc.actor)
            edit = NoteEdit(objective="Worked on grasp.", procedures=procedures)
            if mode == "telehealth":
                edit.client_at_home = at_home
            await update_note(session, self.doc.therapist, note, edit, self.doc.actor)
            if sign:
                await sign_note(
                    session, self.doc.therapist, note, self.doc.actor,
                    now=starts_at + timedelta(hours=2),
                )  # fmt: skip
            return note

    async def charge(self, note: Note) -> Charge:
        async with transaction(self.db) as session:
            loaded = await session.get(Note, note.id)
            assert loaded is not None
            charge = await propose_charge(session, self.doc.therapist, loaded, self.doc.actor)
            assert charge is not None
            return charge


async def make_billing_world(
    db: async_sessionmaker[AsyncSession], *, payer: PayerInput | None = None
) -> BillingWorld:
    doc = await make_world(db)
    actor = doc.actor
    async with transaction(db) as session:
        therapist, client = doc.therapist, doc.client
        session.add(therapist)
        session.add(client)
        await update_practice(session, therapist, PRACTICE, actor)
        made = await add_payer(
            session, therapist, payer or PayerInput("Prairie Health", "PRAIRIE1"), actor
        )
        for code, amount in FEES.items():
            await set_fee(session, therapist, code=code, mode=None, amount=amount, actor=actor)
        await set_coverage(
            session, therapist, client,
            CoverageInput(str(made.id), "PH-448812", "GRP-7", "child", "Ada", "Okafor",
                          "1988-03-14", "2026-01-01"),
            actor,
        )  # fmt: skip
        await add_diagnosis(session, client, "F82", "Developmental coordination disorder",
                            actor, primary=True)  # fmt: skip
        await add_diagnosis(session, client, "R62.50", "Lack of expected development", actor)
        await add_consent(session, therapist, client, "telehealth", "Ada Okafor",
                          date(2026, 9, 1), actor)  # fmt: skip
        client.address_line, client.city, client.postal_code = "12 Elm St", "Springfield", "62701"
        plan = doc.plan
        session.add(plan)
        plan.procedure_codes = ["97110", "97530", "97535"]
    return BillingWorld(doc, made)
