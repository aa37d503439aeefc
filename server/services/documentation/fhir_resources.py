"""FHIR R4 resources built from Tandem rows, as plain JSON (see fhir.py for the bundle)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from server.models import (
    Appointment,
    ChartConsent,
    Client,
    Diagnosis,
    Goal,
    Note,
    NoteAddendum,
    PlanOfCare,
    RecordingConsent,
    RecordingFile,
    User,
)

from .hashing import canonical, note_content

NAMESPACE = uuid.UUID("6f1c8a8e-3b7e-4d8a-9a55-2f1f0f3c7d21")
SHA256_SYSTEM = "urn:tandem:sha256"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
APPOINTMENT_STATUS = {
    "booked": "booked", "checked_in": "arrived", "in_session": "arrived",
    "completed": "fulfilled", "cancelled": "cancelled", "no_show": "noshow",
}  # fmt: skip
GOAL_STATUS = {
    "active": "active", "met": "completed", "not_met": "cancelled",
    "discontinued": "cancelled",
}  # fmt: skip
PLAN_STATUS = {"active": "active", "superseded": "revoked", "discharged": "completed"}


def ref(ident: object) -> dict[str, str]:
    return {"reference": f"urn:uuid:{ident}"}


def derived(kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join([kind, *map(str, parts)]))


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def text_concept(text: str, system: str | None = None, code: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if system and code:
        concept["coding"] = [{"system": system, "code": code, "display": text}]
    return concept


def patient(client: Client) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": str(client.id),
        "name": [{"family": client.last_name, "given": [client.first_name]}],
        "birthDate": client.date_of_birth.isoformat(),
        "address": [{"state": client.home_state, "country": "US"}],
    }


def related_people(client: Client) -> Iterable[dict[str, Any]]:
    for cg in client.caregivers:
        telecom = [{"system": "email", "value": cg.email}] if cg.email else []
        telecom += [{"system": "phone", "value": cg.phone}] if cg.phone else []
        yield {
            "resourceType": "RelatedPerson",
            "id": str(cg.id),
            "patient": ref(client.id),
            "relationship": [text_concept(cg.relationship_to_client)],
            "name": [{"text": cg.name}],
            **({"telecom": telecom} if telecom else {}),
        }


def practitioner(user: User) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": str(user.id),
        "name": [{"text": user.name}],
        "telecom": [{"system": "email", "value": user.email}],
    }


def appointment_and_encounter(appt: Appointment) -> Iterable[dict[str, Any]]:
    yield {
        "resourceType": "Appointment",
        "id": str(appt.id),
        "status": APPOINTMENT_STATUS.get(appt.status, "booked"),
        "serviceType": [text_concept(appt.service_type)],
        "start": instant(appt.starts_at),
        "end": instant(appt.ends_at),
        "participant": [
            {"actor": ref(appt.client_id), "status": "accepted"},
            {"actor": ref(appt.therapist_id), "status": "accepted"},
        ],
    }
    if appt.status != "completed":
        return
    virtual = appt.mode == "telehealth"
    yield {
        "resourceType": "Encounter",
        "id": str(derived("encounter", appt.id)),
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR" if virtual else "AMB",
            "display": "virtual" if virtual else "ambulatory",
        },
        "subject": ref(appt.client_id),
        "participant": [{"individual": ref(appt.therapist_id)}],
        "appointment": [ref(appt.id)],
        "period": {
            "start": instant(appt.started_at or appt.starts_at),
            "end": instant(appt.ended_at or appt.ends_at),
        },
    }


def condition(dx: Diagnosis) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": str(dx.id),
        "code": text_concept(dx.description, ICD10, dx.code),
        "subject": ref(dx.client_id),
        "recordedDate": instant(dx.created_at),
    }


def care_plan(plan: PlanOfCare, diagnoses: list[Diagnosis]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "status": PLAN_STATUS.get(plan.status, "unknown"),
        "intent": "plan",
        "title": f"Plan of care v{plan.version} ({plan.discipline.upper()})",
        "description": f"{plan.frequency}. {plan.assessment}".strip(),
        "subject": ref(plan.client_id),
        "period": {"start": plan.cert_start.isoformat(), "end": plan.cert_end.isoformat()},
        "created": instant(plan.created_at),
        "author": ref(plan.created_by_id),
        "goal": [ref(g.id) for g in plan.goals],
    }
    if plan.supersedes_id:
        resource["replaces"] = [ref(plan.supersedes_id)]
    if diagnoses:
        resource["addresses"] = [ref(d.id) for d in diagnoses]
    return resource


def goal(g: Goal, client_id: uuid.UUID, outcomes: list[uuid.UUID]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Goal",
        "id": str(g.id),
        "lifecycleStatus": GOAL_STATUS.get(g.status, "active"),
        "description": {"text": f"{g.title}: {g.description}"},
        "subject": ref(client_id),
        "target": [
            {
                "measure": {"text": g.measure.replace("_", " ")},
                "detailQuantity": {"value": g.target, "unit": g.unit},
                "dueDate": g.target_date.isoformat(),
            }
        ],
        "note": [{"text": f"Baseline {g.baseline:g} {g.unit}; {g.term}-term goal"}],
        "identifier": [{"system": "urn:tandem:goal-lineage", "value": str(g.lineage_id)}],
    }
    if outcomes:
        resource["outcomeReference"] = [ref(o) for o in outcomes]
    return resource


def observation(note: Note, m: dict[str, Any], encounter: uuid.UUID | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(derived("observation", note.id, m["goal_id"])),
        "status": "final",
        "code": {"text": f"Goal {m.get('number')}, {m.get('label')}"},
        "subject": ref(note.client_id),
        "effectiveDateTime": note.service_date.isoformat(),
        "valueQuantity": {"value": m["value"], "unit": m.get("unit") or "%"},
        "note": [{"text": m["text"]}],
        "derivedFrom": [ref(note.id)],
    }
    if encounter:
        resource["encounter"] = ref(encounter)
    return resource


def document(
    note: Note, encounter: uuid.UUID | None, addenda: list[NoteAddendum]
) -> Iterable[dict[str, Any]]:
    if note.signed_at is None or note.content_hash is None:
        raise ValueError("only signed notes are exported")
    body = canonical(note_content(note))
    context: dict[str, Any] = {"period": {"start": note.service_date.isoformat()}}
    if encounter:
        context["encounter"] = [ref(encounter)]
    yield {
        "resourceType": "DocumentReference",
        "id": str(note.id),
        "masterIdentifier": {"system": SHA256_SYSTEM, "value": note.content_hash},
        "status": "current",
        "docStatus": "final",
        "type": text_concept(note.note_type.replace("_", " ")),
        "subject": ref(note.client_id),
        "date": instant(note.signed_at),
        "author": [ref(note.author_id)],
        "authenticator": ref(note.author_id),
        "description": "Late entry" if note.late_entry else "Signed note",
        "content": [
            {
                "attachment": {
                    "contentType": "application/json",
                    "data": base64.b64encode(body).decode("ascii"),
                    "title": f"{note.note_type} {note.service_date.isoformat()}",
                    "creation": instant(note.signed_at),
                }
            }
        ],
        "context": context,
    }
    for a in addenda:
        text = f"Reason: {a.reason}\n\n{a.text}".encode()
        yield {
            "resourceType": "DocumentReference",
            "id": str(a.id),
            "masterIdentifier": {"system": SHA256_SYSTEM, "value": a.content_hash},
            "status": "current",
            "docStatus": "amended",
            "type": text_concept("addendum"),
            "subject": ref(note.client_id),
            "date": instant(a.created_at),
            "author": [ref(a.author_id)],
            "description": a.reason,
            "relatesTo": [{"code": "appends", "target": ref(note.id)}],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(text).decode("ascii"),
                    }
                }
            ],
        }


def media(f: RecordingFile, client_id: uuid.UUID, encounter: uuid.UUID | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Media",
        "id": str(f.id),
        "status": "completed",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "video"}
            ]
        },
        "subject": ref(client_id),
        "createdDateTime": instant(f.started_at),
        "content": {
            "contentType": "video/webm",
            "url": f"/recordings/{f.id}/media",
            "title": f"Recording {f.recording_id}, participant {f.participant_id}",
        },
    }
    if f.sha256:
        resource["identifier"] = [{"system": SHA256_SYSTEM, "value": f.sha256}]
    if f.duration_ms is not None:
        resource["duration"] = round(f.duration_ms / 1000, 3)
    if encounter:
        resource["encounter"] = ref(encounter)
    return resource


def consent(row: ChartConsent | RecordingConsent, client_id: uuid.UUID) -> dict[str, Any]:
    if isinstance(row, ChartConsent):
        kind, when, permit = (
            row.kind,
            datetime.combine(row.given_on, datetime.min.time(), UTC),
            True,
        )
        active = row.revoked_at is None
        who = row.given_by
    else:
        kind, when, permit, active, who = (
            "recording",
            row.decided_at,
            row.accepted,
            True,
            row.display_name,
        )
    return {
        "resourceType": "Consent",
        "id": str(row.id),
        "status": "active" if active else "inactive",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "treatment",
                }
            ]
        },
        "category": [text_concept(f"{kind} consent")],
        "patient": ref(client_id),
        "dateTime": instant(when),
        "performer": [{"display": who}],
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {"type": "permit" if permit else "deny"},
    }
