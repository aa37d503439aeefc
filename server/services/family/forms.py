"""What the family signs and fills in before the visit: telehealth consent, recording consent
(and, for clips of the session shared with them, sharing consent), and a short intake form.

Each consent text is versioned here; a signature stores the exact text shown, the version, the
typed name and the time. A new version means a new text to sign: the old signature keeps what
it agreed to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import utcnow
from server.models import Appointment, IntakeResponse, SignedConsent, User
from server.services.audit import Actor, add_audit
from server.services.errors import NotFound, ValidationFailed
from server.services.scheduling.common import Status

from .access import FamilyIdentity, issue_sign_in_link


@dataclass(frozen=True)
class ConsentText:
    kind: str
    version: str
    title: str
    text: str


CONSENTS = {
    c.kind: c
    for c in (
        ConsentText(
            "telehealth", "2026-12.1", "Consent to telehealth",
            "I agree that my child receives therapy by secure video (telehealth). I understand"
            " that: the therapist is licensed in the state where my child is during the visit,"
            " and I will say where we are at the start of each visit; video visits have limits"
            " (the therapist cannot touch or examine my child in person) and the therapist may"
            " recommend an in-person visit; an adult stays with my child for the whole visit; if"
            " the connection fails, the therapist will call me; the visit is not an emergency"
            " service, and in an emergency I call 911; I may withdraw this consent at any time"
            " on the family page, which does not affect care already given.",
        ),
        ConsentText(
            "recording", "2026-12.1", "Consent to recording visits",
            "I agree that the therapist may record video visits, only with everyone's agreement"
            " at the start of each recording, to document progress and to plan therapy. The"
            " recordings are stored securely, are part of my child's record, and are not shared"
            " outside the practice. I may withdraw this consent at any time on the family page;"
            " recordings already made are kept as part of the record.",
        ),
        ConsentText(
            "sharing", "2026-12.1", "Consent to sharing clips with the family",
            "I agree that short clips from recorded visits in which I or my child appear may be"
            " shown to our family on this family page, as part of the home program. They are"
            " shown only to our family. I may withdraw this consent at any time on the family"
            " page: the clips are then no longer shown.",
        ),
    )
}  # fmt: skip

INTAKE_FIELDS = {
    "concerns": "What would you like help with?",
    "routines": "Which daily routines are hardest right now?",
    "strengths": "What does your child enjoy or do well?",
    "availability": "Which days and times suit you for visits?",
}
NO_FORM = "No such form."
FORMS_REQUEST_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class FormStatus:
    kind: str  # a consent kind, or "intake"
    title: str
    done_at: datetime | None
    done_by: str | None = None
    version: str | None = None


async def current_consent(
    session: AsyncSession, client_id: object, kind: str
) -> SignedConsent | None:
    """The consent of that kind in force now (the newest signature not withdrawn)."""
    result: SignedConsent | None = await session.scalar(
        select(SignedConsent)
        .where(
            SignedConsent.client_id == client_id,
            SignedConsent.kind == kind,
            SignedConsent.withdrawn_at.is_(None),
        )
        .order_by(SignedConsent.signed_at.desc())
        .limit(1)
    )
    return result


async def latest_intake(session: AsyncSession, client_id: object) -> IntakeResponse | None:
    result: IntakeResponse | None = await session.scalar(
        select(IntakeResponse)
        .where(IntakeResponse.client_id == client_id)
        .order_by(IntakeResponse.submitted_at.desc())
        .limit(1)
    )
    return result


async def form_statuses(session: AsyncSession, client_id: object) -> list[FormStatus]:
    """Telehealth and recording consent and the intake, signed or to do: for the family page,
    the appointment page and the note."""
    statuses = []
    for kind in ("telehealth", "recording"):
        consent = await current_consent(session, client_id, kind)
        if consent is None:
            statuses.append(FormStatus(kind, CONSENTS[kind].title, None))
        else:
            title = CONSENTS[kind].title
            statuses.append(
                FormStatus(kind, title, consent.signed_at, consent.signed_name, consent.version)
            )
    intake = await latest_intake(session, client_id)
    statuses.append(FormStatus("intake", "Intake form", intake.submitted_at if intake else None))
    return statuses


def consent_text(kind: str) -> ConsentText:
    found = CONSENTS.get(kind)
    if found is None:
        raise NotFound(NO_FORM)
    return found


async def sign_consent(
    session: AsyncSession, identity: FamilyIdentity, kind: str, version: str, typed_name: str,
    actor: Actor, *, now: datetime | None = None,
) -> SignedConsent:  # fmt: skip
    """Signs the current text of a consent (``version`` is the one the page showed)."""
    text = consent_text(kind)
    name = " ".join(typed_name.split())
    if not 2 <= len(name) <= 200:
        raise ValidationFailed({"signed_name": "Type your full name to sign."})
    if version != text.version:
        raise ValidationFailed({"version": "The text changed while you read it: read it again."})
    row = SignedConsent(
        client_id=identity.client.id, caregiver_id=identity.caregiver.id, kind=kind,
        version=text.version, text=text.text, signed_name=name, signed_at=now or utcnow(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "family.consent_sign", object_type="client",
        object_id=identity.client.id, detail={"kind": kind, "version": text.version},
    )  # fmt: skip
    return row


async def withdraw_consent(
    session: AsyncSession, identity: FamilyIdentity, kind: str, actor: Actor
) -> int:
    """Withdraws every signature of that kind in force for the family's client, at once."""
    consent_text(kind)
    rows = list(
        await session.scalars(
            select(SignedConsent).where(
                SignedConsent.client_id == identity.client.id,
                SignedConsent.kind == kind,
                SignedConsent.withdrawn_at.is_(None),
            )
        )
    )
    now = utcnow()
    for row in rows:
        row.withdrawn_at = now
    add_audit(
        session, actor, "family.consent_withdraw", object_type="client",
        object_id=identity.client.id, detail={"kind": kind, "count": len(rows)},
    )  # fmt: skip
    return len(rows)


async def submit_intake(
    session: AsyncSession, identity: FamilyIdentity, answers: dict[str, str], actor: Actor
) -> IntakeResponse:
    cleaned = {k: " ".join(str(answers.get(k, "")).split())[:1000] for k in INTAKE_FIELDS}
    if not cleaned["concerns"]:
        raise ValidationFailed({"concerns": "Tell us briefly what you would like help with."})
    row = IntakeResponse(
        client_id=identity.client.id, caregiver_id=identity.caregiver.id, answers=cleaned
    )
    session.add(row)
    await session.flush()
    add_audit(
        session, actor, "family.intake_submit", object_type="client", object_id=identity.client.id
    )
    return row


async def read_intake_for_family(
    session: AsyncSession, identity: FamilyIdentity, actor: Actor
) -> dict[str, Any] | None:
    intake = await latest_intake(session, identity.client.id)
    if intake is not None:
        add_audit(
            session, actor, "family.intake_read", object_type="client",
            object_id=identity.client.id,
        )  # fmt: skip
    return intake.answers if intake is not None else None


async def queue_forms_requests(session: AsyncSession, now: datetime, base_url: str) -> int:
    """With a client's first upcoming visit, each caregiver with an email gets a sign-in link
    asking for the consents and the intake (once per caregiver; not when all are done)."""
    appts = await session.scalars(
        select(Appointment)
        .where(
            Appointment.starts_at > now,
            Appointment.status.in_([Status.booked, Status.checked_in]),
            # Booked lately: the request goes with the booking, not with every visit ever.
            Appointment.created_at >= now - FORMS_REQUEST_WINDOW,
        )
        .order_by(Appointment.starts_at)
    )
    seen: set[object] = set()
    queued = 0
    for appt in appts.unique():
        if appt.client_id in seen:
            continue
        seen.add(appt.client_id)
        statuses = await form_statuses(session, appt.client_id)
        if all(s.done_at is not None for s in statuses):
            continue
        therapist = await session.get(User, appt.therapist_id)
        assert therapist is not None
        for caregiver in appt.client.caregivers:
            if not caregiver.email:
                continue
            queued += await issue_sign_in_link(
                session, therapist, appt.client, str(caregiver.id), base_url, Actor.system(),
                now=now, purpose="forms", dedupe_key=f"family.forms:{caregiver.id}",
            ) is not None  # fmt: skip
    return queued
