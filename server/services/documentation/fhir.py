"""One client's record as a FHIR R4 Bundle (type collection), built as plain JSON.

Resources reference each other by `urn:uuid:` full URLs inside the bundle. Only signed notes are
exported (as DocumentReference with the canonical content as the attachment, so the SHA-256 in
the identifier can be recomputed); addenda are their own DocumentReferences that `append` to it.
Derived resources (Encounter, Observation) get stable name-based UUIDs, so exports are repeatable.
"""

from __future__ import annotations

import uuid
from typing import Any

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
    RecordingFile,
    User,
    VideoSession,
)
from server.services.audit import Actor, add_audit
from server.services.video.recordings import PLAYABLE

from .fhir_resources import (
    appointment_and_encounter,
    care_plan,
    condition,
    consent,
    derived,
    document,
    goal,
    instant,
    media,
    observation,
    patient,
    practitioner,
    related_people,
)
from .notes import list_addenda


class _Bundle:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, resource: dict[str, Any]) -> None:
        self.entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})

    def as_json(self, client: Client) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": str(derived("bundle", client.id, utcnow().isoformat())),
            "type": "collection",
            "timestamp": instant(utcnow()),
            "entry": self.entries,
        }


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    return list(await session.scalars(query))


async def export_client(session: AsyncSession, client: Client, actor: Actor) -> dict[str, Any]:
    cid = client.id
    bundle = _Bundle()
    bundle.add(patient(client))
    for person in related_people(client):
        bundle.add(person)
    therapist = await session.get(User, client.therapist_id)
    if therapist is not None:
        bundle.add(practitioner(therapist))
    diagnoses = await _rows(
        session, select(Diagnosis).where(Diagnosis.client_id == cid, Diagnosis.removed_at.is_(None))
    )
    for dx in diagnoses:
        bundle.add(condition(dx))
    encounters: dict[uuid.UUID, uuid.UUID] = {}
    for appt in await _rows(
        session,
        select(Appointment).where(Appointment.client_id == cid).order_by(Appointment.starts_at),
    ):
        for resource in appointment_and_encounter(appt):
            bundle.add(resource)
            if resource["resourceType"] == "Encounter":
                encounters[appt.id] = uuid.UUID(resource["id"])
    notes = [
        n
        for n in await _rows(
            session, select(Note).where(Note.client_id == cid).order_by(Note.service_date)
        )
        if n.is_signed
    ]
    outcomes: dict[str, list[uuid.UUID]] = {}
    for note in notes:
        encounter = encounters.get(note.appointment_id) if note.appointment_id else None
        for resource in document(note, encounter, await list_addenda(session, note)):
            bundle.add(resource)
        for m in note.measures:
            if m.get("value") is None or note.note_type != "progress_note":
                continue
            obs = observation(note, m, encounter)
            bundle.add(obs)
            outcomes.setdefault(m.get("lineage_id") or m["goal_id"], []).append(
                uuid.UUID(obs["id"])
            )
    for plan in await _rows(
        session, select(PlanOfCare).where(PlanOfCare.client_id == cid).order_by(PlanOfCare.version)
    ):
        bundle.add(care_plan(plan, diagnoses))
        for g in plan.goals:
            mine = outcomes.get(str(g.lineage_id), []) if plan.status == "active" else []
            bundle.add(goal(g, cid, mine))
    videos = {
        v.id: v
        for v in await _rows(session, select(VideoSession).where(VideoSession.client_id == cid))
    }
    if videos:
        for f in await _rows(
            session, select(RecordingFile).where(RecordingFile.session_id.in_(videos))
        ):
            if f.status in PLAYABLE:
                appt_id = videos[f.session_id].appointment_id
                bundle.add(media(f, cid, encounters.get(appt_id) if appt_id else None))
        for rc in await _rows(
            session, select(RecordingConsent).where(RecordingConsent.session_id.in_(videos))
        ):
            bundle.add(consent(rc, cid))
    for cc in await _rows(session, select(ChartConsent).where(ChartConsent.client_id == cid)):
        bundle.add(consent(cc, cid))
    add_audit(
        session, actor, "chart.export_fhir", object_type="client", object_id=cid,
        detail={"resources": len(bundle.entries)},
    )  # fmt: skip
    return bundle.as_json(client)
