"""The client chart: diagnoses, referral, consents on file, and the timeline of visits and notes.

Reading the chart is audited as one read (chart.read) covering everything shown with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import (
    Appointment,
    ChartConsent,
    Client,
    Diagnosis,
    Note,
    PlanOfCare,
    RecordingConsent,
    Referral,
    User,
    VideoSession,
)
from server.services.audit import Actor, add_audit

from .common import ValidationFailed
from .due import DueItem, client_due
from .notes import client_notes
from .plans import active_plan

# ICD-10-CM shape: a letter, two characters, then optionally a dot and up to four more.
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
CONSENT_KINDS = {
    "telehealth": "Telehealth",
    "treatment": "Consent to treat",
    "release": "Release of information",
}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # visit | note
    appointment: Appointment | None = None
    note: Note | None = None


@dataclass(frozen=True)
class Chart:
    client: Client
    diagnoses: list[Diagnosis]
    referrals: list[Referral]
    consents: list[ChartConsent]
    recording_consents: list[RecordingConsent]
    plan: PlanOfCare | None
    notes: list[Note]
    timeline: list[TimelineEntry]
    due: list[DueItem]


async def add_diagnosis(
    session: AsyncSession,
    client: Client,
    code: str,
    description: str,
    actor: Actor,
    *,
    primary: bool = False,
) -> Diagnosis:
    code = code.strip().upper()
    description = " ".join(description.split())[:300]
    errors = {}
    if not ICD10.match(code):
        errors["code"] = "Enter an ICD-10 code such as F82 or R62.50."
    if not description:
        errors["description"] = "Enter the diagnosis text."
    if errors:
        raise ValidationFailed(errors)
    row = Diagnosis(client_id=client.id, code=code, description=description, is_primary=primary)
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "chart.diagnosis_add", object_type="client", object_id=client.id,
        detail={"code": code},
    )  # fmt: skip
    return row


async def add_referral(
    session: AsyncSession,
    client: Client,
    source: str,
    actor: Actor,
    *,
    provider: str = "",
    reason: str = "",
    referred_on: date | None = None,
) -> Referral:
    source = " ".join(source.split())[:200]
    if not source:
        raise ValidationFailed({"source": "Say who referred the client."})
    row = Referral(
        client_id=client.id,
        source=source,
        referring_provider=provider.strip()[:200],
        reason=reason.strip()[:500],
        referred_on=referred_on,
    )
    session.add(row)
    await session.flush()
    add_audit(session, actor, "chart.referral_add", object_type="client", object_id=client.id)
    return row


async def add_consent(
    session: AsyncSession,
    user: User,
    client: Client,
    kind: str,
    given_by: str,
    given_on: date,
    actor: Actor,
    *,
    note: str = "",
) -> ChartConsent:
    errors = {}
    if kind not in CONSENT_KINDS:
        errors["kind"] = "Choose the kind of consent."
    given_by = " ".join(given_by.split())[:200]
    if not given_by:
        errors["given_by"] = "Who gave the consent (parent or guardian)?"
    if given_on > utcnow().date():
        errors["given_on"] = "The consent date is in the future."
    if errors:
        raise ValidationFailed(errors)
    row = ChartConsent(
        client_id=client.id,
        kind=kind,
        given_by=given_by,
        given_on=given_on,
        note=note.strip()[:500],
        recorded_by_id=user.id,
    )
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "chart.consent_add", object_type="client", object_id=client.id,
        detail={"kind": kind},
    )  # fmt: skip
    return row


async def read_chart(
    session: AsyncSession, client: Client, actor: Actor, today: date | None = None
) -> Chart:
    cid = client.id
    diagnoses = list(
        await session.scalars(
            select(Diagnosis)
            .where(Diagnosis.client_id == cid, Diagnosis.removed_at.is_(None))
            .order_by(Diagnosis.is_primary.desc(), Diagnosis.created_at)
        )
    )
    referrals = list(
        await session.scalars(
            select(Referral).where(Referral.client_id == cid).order_by(Referral.created_at)
        )
    )
    consents = list(
        await session.scalars(
            select(ChartConsent)
            .where(ChartConsent.client_id == cid)
            .order_by(ChartConsent.given_on.desc())
        )
    )
    recording_consents = list(
        await session.scalars(
            select(RecordingConsent)
            .join(VideoSession, VideoSession.id == RecordingConsent.session_id)
            .where(VideoSession.client_id == cid)
            .order_by(RecordingConsent.decided_at.desc())
        )
    )
    appointments = list(
        await session.scalars(
            select(Appointment)
            .where(Appointment.client_id == cid)
            .order_by(Appointment.starts_at.desc())
        )
    )
    notes = await client_notes(session, cid)
    noted = {n.appointment_id for n in notes if n.appointment_id}
    timeline = [
        TimelineEntry(a.starts_at, "visit", appointment=a)
        for a in appointments
        if a.id not in noted
    ] + [TimelineEntry(n.time_in or n.created_at, "note", note=n) for n in notes]
    timeline.sort(key=lambda e: e.at, reverse=True)
    add_audit(session, actor, "chart.read", object_type="client", object_id=cid)
    return Chart(
        client=client,
        diagnoses=diagnoses,
        referrals=referrals,
        consents=consents,
        recording_consents=recording_consents,
        plan=await active_plan(session, cid),
        notes=notes,
        timeline=timeline,
        due=await client_due(session, client, today),
    )
