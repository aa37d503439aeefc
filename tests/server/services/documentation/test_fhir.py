"""The FHIR R4 export of a demo-like client validates (fhir.resources R4B) and round-trips."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

from doc_world import T0, DocWorld, held_telehealth_session
from fhir.resources.R4B.bundle import Bundle

from server.db import transaction
from server.models import Appointment, Client
from server.services.documentation.chart import add_consent, add_diagnosis
from server.services.documentation.drafting import draft_note
from server.services.documentation.fhir import export_client
from server.services.documentation.notes import NoteEdit, add_addendum, sign_note, update_note


async def test_export_validates_and_round_trips(world: DocWorld) -> None:
    held = await held_telehealth_session(world)
    await world.visit(T0 + timedelta(days=7), status="booked")
    async with transaction(world.db) as session:
        client = await session.get(Client, world.client.id)
        assert client is not None
        await add_diagnosis(session, client, "F82", "Developmental coordination disorder",
                            world.actor, primary=True)  # fmt: skip
        await add_consent(session, world.therapist, client, "telehealth", "Ada Okafor",
                          (T0 - timedelta(days=3)).date(), world.actor)  # fmt: skip
        appt = await session.get(Appointment, held.appointment.id)
        assert appt is not None
        note = await draft_note(session, world.therapist, appt, world.actor)
        await update_note(session, world.therapist, note, NoteEdit(assessment="Emerging grasp."),
                          world.actor)  # fmt: skip
        await sign_note(session, world.therapist, note, world.actor, now=T0 + timedelta(hours=3))
        addendum = await add_addendum(session, world.therapist, note, "Correction",
                                      "Parent also present at start.", world.actor)  # fmt: skip
    async with transaction(world.db) as session:
        client = await session.get(Client, world.client.id)
        assert client is not None
        exported = await export_client(session, client, world.actor)

    bundle = Bundle.model_validate(exported)  # raises on any invalid resource
    assert bundle.type == "collection"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in exported["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    assert {"Patient", "RelatedPerson", "Practitioner", "Appointment", "Encounter", "CarePlan",
            "Goal", "Observation", "DocumentReference", "Media", "Consent",
            "Condition"} <= set(by_type)  # fmt: skip
    patient = by_type["Patient"][0]
    assert patient["birthDate"] == "2019-04-12"
    assert patient["name"] == [{"family": "Okafor", "given": ["Maya"]}]
    assert [a["status"] for a in by_type["Appointment"]] == ["fulfilled", "booked"]
    assert by_type["Encounter"][0]["class"]["code"] == "VR"  # telehealth
    goals = {g["id"]: g for g in by_type["Goal"]}
    assert goals[str(world.plan.goals[0].id)]["target"][0]["detailQuantity"]["value"] == 80.0
    values = sorted(o["valueQuantity"]["value"] for o in by_type["Observation"])
    assert values == [70]  # the timed goal has no value until the therapist enters one
    docs = {d["id"]: d for d in by_type["DocumentReference"]}
    original = docs[str(note.id)]
    body = base64.b64decode(original["content"][0]["attachment"]["data"])
    assert hashlib.sha256(body).hexdigest() == note.content_hash
    assert original["masterIdentifier"]["value"] == note.content_hash
    appended = docs[str(addendum.id)]
    assert appended["relatesTo"] == [
        {"code": "appends", "target": {"reference": f"urn:uuid:{note.id}"}}
    ]
    assert by_type["Media"][0]["identifier"][0]["value"] == "ab" * 32
    assert {c["provision"]["type"] for c in by_type["Consent"]} == {"permit"}
    # Every reference resolves inside the bundle.
    urls = {e["fullUrl"] for e in exported["entry"]}
    refs = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("reference"), str):
                refs.add(value["reference"])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(exported)
    assert refs <= urls
