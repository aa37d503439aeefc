"""Synthetic billing for `tandem demo`: a practice with fake identifiers, three payers with
different telehealth rules, a fee schedule, coverages and an authorization, and a few visits
already documented and charged, so a new user sees billing work end to end.

Fake on purpose: the NPIs pass the Luhn check with the 80840 prefix but start 19999/29999 (none
is issued to anyone we know of, and no claim built from them goes anywhere); the tax id starts
07, a prefix the IRS does not issue; payer ids start DEMO. Idempotent: existing rows are kept.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, Charge, Client, Diagnosis, Note, User
from server.services.audit import Actor
from server.services.documentation.chart import add_consent, add_diagnosis
from server.services.documentation.drafting import draft_note
from server.services.documentation.notes import NoteEdit, sign_note, update_note
from server.services.documentation.plans import active_plan

from .charges import confirm_charge, propose_charge
from .common import npi_with_check_digit
from .coverage import (
    AuthorizationInput,
    CoverageInput,
    add_authorization,
    list_coverages,
    set_coverage,
)
from .payers import PayerInput, add_payer, list_payers, set_fee
from .practice import PracticeInput, get_practice, update_practice

PRACTICE = PracticeInput(
    practice_name="Avery Pediatric Therapy (demo)",
    billing_npi=npi_with_check_digit("299999990"),
    rendering_npi=npi_with_check_digit("199999990"),
    tax_id="071234567",
    taxonomy_code="225X00000X",
    address_line="100 Demo Way, Suite 2",
    city="Springfield",
    state="IL",
    postal_code="627010001",
    phone="5555550100",
    submitter_id="TANDEMDEMO",
    receiver_id="DEMOCLEARING",
    receiver_name="Demo Clearinghouse",
    kx_threshold="2410",
    late_entry_hours="24",
)
PAYERS = [
    PayerInput(
        "Prairie Health Plan (demo)",
        "DEMOPHP",
        "95",
        "cms",
        "parity",
        "CI",
        requires_authorization=True,
    ),
    PayerInput("State Medicaid (demo)", "DEMOMCD", "GT", "always_02", "separate", "MC"),
    PayerInput("Medicare Part B (demo)", "DEMOMCR", "95", "cms", "parity", "MB", applies_kx=True),
]
# Practice fees per unit (private pay and every payer's fallback), and Medicaid's own.
FEES = {
    "97530": "60",
    "97110": "55",
    "97112": "58",
    "97535": "55",
    "97533": "60",
    "97116": "55",
    "97140": "57",
    "97165": "180",
    "97166": "190",
    "97167": "205",
    "97168": "120",
    "97161": "180",
    "97162": "190",
    "97163": "205",
    "97164": "120",
    "92523": "210",
    "92507": "120",
    "92526": "125",
}
MEDICAID_FEES = {("97530", "in_person"): "42", ("97530", "telehealth"): "38", ("97110", None): "36"}
ADDRESSES = {
    "Maya": ("12 Elm Street", "Springfield", "62701"),
    "Leo": ("48 Lakeview Road", "Madison", "53703"),
    "Priya": ("7 Aspen Court", "Boulder", "80302"),
    "Sam": ("230 Oak Avenue", "Springfield", "62704"),
}
DIAGNOSES = {
    "Maya": [("F82", "Specific developmental disorder of motor function")],
    "Leo": [
        ("R63.3", "Feeding difficulties"),
        ("F98.29", "Other feeding disorders of infancy and early childhood"),
    ],
    "Priya": [("F80.0", "Phonological disorder")],
    "Sam": [("R26.89", "Other abnormalities of gait and mobility")],
}
PLAN_CODES = {
    "Maya": ["97530", "97110", "97535", "97533"],
    "Leo": ["92526", "97530", "97535"],
    "Priya": ["92507"],
    "Sam": ["97110", "97116", "97530", "97112"],
}


async def _practice_and_payers(
    session: AsyncSession, therapist: User, actor: Actor
) -> dict[str, str]:
    profile = await get_practice(session, therapist)
    if not profile.billing_npi:
        await update_practice(session, therapist, PRACTICE, actor)
    payers = {p.payer_code: p for p in await list_payers(session, therapist)}
    for data in PAYERS:
        if data.payer_code not in payers:
            payers[data.payer_code] = await add_payer(session, therapist, data, actor)
            if data.payer_code == "DEMOPHP":
                for code, amount in FEES.items():
                    await set_fee(
                        session, therapist, code=code, mode=None, amount=amount, actor=actor
                    )
            if data.payer_code == "DEMOMCD":
                for (code, mode), amount in MEDICAID_FEES.items():
                    await set_fee(
                        session,
                        therapist,
                        code=code,
                        mode=mode,
                        amount=amount,
                        actor=actor,
                        payer_id=str(payers["DEMOMCD"].id),
                    )
    return {code: str(p.id) for code, p in payers.items()}


async def _chart(
    session: AsyncSession,
    therapist: User,
    clients: dict[str, Client],
    payers: dict[str, str],
    today: date,
    actor: Actor,
) -> None:
    for name, client in clients.items():
        if not client.address_line and name in ADDRESSES:
            client.address_line, client.city, client.postal_code = ADDRESSES[name]
        has_dx = await session.scalar(select(Diagnosis.id).where(Diagnosis.client_id == client.id))
        if not has_dx:
            for i, (code, text) in enumerate(DIAGNOSES.get(name, [])):
                await add_diagnosis(session, client, code, text, actor, primary=i == 0)
            if name in ("Maya", "Priya"):
                await add_consent(
                    session,
                    therapist,
                    client,
                    "telehealth",
                    client.caregivers[0].name,
                    today - timedelta(days=60),
                    actor,
                )
        plan = await active_plan(session, client.id)
        if plan is not None and not plan.procedure_codes:
            plan.procedure_codes = PLAN_CODES.get(name, [])
    start = (today - timedelta(days=60)).isoformat()
    coverages = {
        "Maya": CoverageInput(
            payers["DEMOPHP"], "PHP-448812", "GRP-7", "child", "Ada", "Okafor", "1988-03-14", start
        ),
        "Sam": CoverageInput(
            payers["DEMOPHP"],
            "PHP-552019",
            "GRP-7",
            "child",
            "Rosa",
            "Whitfield",
            "1979-11-02",
            start,
        ),
        "Leo": CoverageInput(payers["DEMOMCD"], "MCD77120045", "", "self", "", "", "", start),
    }
    for name, data in coverages.items():
        covered = clients.get(name)
        if covered is None:
            continue
        if not await list_coverages(session, covered.id):
            await set_coverage(session, therapist, covered, data, actor)
            if name == "Maya":
                await add_authorization(
                    session,
                    therapist,
                    covered,
                    AuthorizationInput(
                        payers["DEMOPHP"],
                        "AUTH-2026-0193",
                        "12",
                        start,
                        (today + timedelta(days=120)).isoformat(),
                    ),
                    actor,
                )


async def _charged_visit(
    session: AsyncSession,
    therapist: User,
    client: Client,
    days_ago: int,
    mode: str,
    procedures: list[tuple[str, str]],
    actor: Actor,
) -> None:
    """A visit in the past with its signed note and confirmed charge (through the services)."""
    zone = ZoneInfo(therapist.time_zone)
    day = utcnow().astimezone(zone).date() - timedelta(days=days_ago)
    start = datetime.combine(day, time(17, 0), zone)
    plan = await active_plan(session, client.id)
    service = {"ot": "ot_treatment", "pt": "pt_treatment", "slp": "speech_treatment"}
    appt = Appointment(
        therapist_id=therapist.id,
        client_id=client.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=45),
        mode=mode,
        client_state=client.home_state,
        service_type=service[plan.discipline if plan else "ot"],
        status="completed",
        overridden=[],
        override_reason="Demo: a visit that already took place.",
        started_at=start,
        ended_at=start + timedelta(minutes=45),
    )
    session.add(appt)
    await session.flush()
    await session.refresh(appt, ["client", "location"])
    note = await draft_note(session, therapist, appt, actor)
    await update_note(
        session,
        therapist,
        note,
        NoteEdit(
            subjective="Synthetic demo visit.",
            objective="Worked on the plan's goals.",
            assessment="Progressing.",
            plan="Continue as planned.",
            procedures=procedures,
        ),
        actor,
    )
    await sign_note(session, therapist, note, actor, now=start + timedelta(hours=1))
    charge = await propose_charge(session, therapist, note, actor)
    if charge is not None:
        await confirm_charge(session, therapist, charge, actor)
    appt.video_session_id = None


async def seed_billing_demo(
    session: AsyncSession, therapist: User, actor: Actor, *, base_url: str
) -> list[str]:
    clients = {
        c.first_name: c
        for c in await session.scalars(select(Client).where(Client.therapist_id == therapist.id))
    }
    today = utcnow().astimezone(ZoneInfo(therapist.time_zone)).date()
    payers = await _practice_and_payers(session, therapist, actor)
    await _chart(session, therapist, clients, payers, today, actor)
    await session.flush()
    charged = await session.scalar(select(Charge.id).where(Charge.therapist_id == therapist.id))
    if charged is None:
        visits = [
            ("Priya", 3, "telehealth", [("92507", "40")]),
            ("Leo", 4, "in_person", [("92526", "30"), ("97530", "24"), ("97535", "23")]),
            ("Sam", 2, "in_person", [("97110", "33"), ("97116", "7")]),
        ]
        for name, days_ago, mode, procedures in visits:
            if name in clients:
                await _charged_visit(
                    session, therapist, clients[name], days_ago, mode, procedures, actor
                )
    # The documentation demo's draft note for Maya gets its procedures: signing it proposes
    # a telehealth charge (POS 10, modifiers GO 95) to review.
    draft = (
        await session.scalar(
            select(Note).where(
                Note.author_id == therapist.id,
                Note.status == "draft",
                Note.mode == "telehealth",
                Note.client_id == clients["Maya"].id,
            )
        )
        if "Maya" in clients
        else None
    )
    if draft is not None and not draft.procedures:
        await update_note(
            session,
            therapist,
            draft,
            NoteEdit(procedures=[("97530", "30"), ("97535", "14")]),
            actor,
        )
    return [
        f"Billing: charges, 837P, CSV and superbills at {base_url}/billing "
        "(sign Maya's note to see its charge proposed)"
    ]
