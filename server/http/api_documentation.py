"""JSON for documentation: a note (with its verification), the autosave endpoint, FHIR export."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.models import Note, NoteAddendum
from server.services.clients import get_client_for
from server.services.documentation.common import NoteSigned, ValidationFailed
from server.services.documentation.fhir import export_client
from server.services.documentation.notes import (
    get_note_for,
    list_addenda,
    note_verifies,
    update_note,
)

from .api import invalid, read_json
from .context import actor_for, login_required, require_user, unit_of_work
from .pages_documentation_notes import note_edit_from, refused


def note_json(note: Note, addenda: list[NoteAddendum]) -> dict[str, Any]:
    return {
        "id": str(note.id),
        "client_id": str(note.client_id),
        "author_id": str(note.author_id),
        "appointment_id": str(note.appointment_id) if note.appointment_id else None,
        "video_session_id": str(note.video_session_id) if note.video_session_id else None,
        "note_type": note.note_type,
        "status": note.status,
        "service_date": note.service_date.isoformat(),
        "mode": note.mode,
        "time_in": note.time_in.isoformat() if note.time_in else None,
        "time_out": note.time_out.isoformat() if note.time_out else None,
        "modality": note.modality,
        "client_location_state": note.client_location_state,
        "present": note.present,
        "telehealth_consent": note.telehealth_consent,
        "client_at_home": note.client_at_home,
        "procedures": note.procedures,
        "subjective": note.subjective,
        "objective": note.objective,
        "assessment": note.assessment,
        "plan": note.plan,
        "measures": note.measures,
        "session_facts": note.session_facts,
        "updated_at": note.updated_at.isoformat(),
        "signed_at": note.signed_at.isoformat() if note.signed_at else None,
        "late_entry": note.late_entry,
        "content_hash": note.content_hash,
        "content_format": note.content_format,
        "verified": note_verifies(note, addenda) if note.is_signed else None,
        "addenda": [
            {
                "id": str(a.id),
                "author_id": str(a.author_id),
                "reason": a.reason,
                "text": a.text,
                "created_at": a.created_at.isoformat(),
                "content_hash": a.content_hash,
            }
            for a in addenda
        ],
    }


@login_required
async def note_show(request: Request) -> Response:
    """
    summary: One note with its addenda; `verified` recomputes the signed content hash.
    responses:
      200: {description: The note.}
      404: {description: Not your note.}
    """
    user = require_user(request)
    async with unit_of_work(request) as session:
        note = await get_note_for(
            session, user, request.path_params["note_id"], actor_for(request, user)
        )
        body = note_json(note, await list_addenda(session, note))
    return JSONResponse(body)


@login_required
async def note_autosave(request: Request) -> Response:
    """
    summary: Save a draft's fields (autosave); a signed note refuses with 409.
    responses:
      200: {description: "{saved: [fields], updated_at}"}
      409: {description: The note is signed.}
      422: {description: Validation errors by field.}
    """
    user = require_user(request)
    data = await read_json(request)
    try:
        async with unit_of_work(request) as session:
            note = await get_note_for(
                session, user, request.path_params["note_id"], actor_for(request, user)
            )
            changed = await update_note(
                session, user, note, note_edit_from(data), actor_for(request, user)
            )
            body = {"saved": changed, "updated_at": note.updated_at.isoformat()}
    except NoteSigned as exc:
        await refused(request, user, "note.update", request.path_params["note_id"], exc.reason)
        raise
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(body)


@login_required
async def client_fhir(request: Request) -> Response:
    """
    summary: The client's record as a FHIR R4 Bundle (collection).
    responses:
      200: {description: A FHIR R4 Bundle.}
      404: {description: Not in your caseload.}
    """
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        bundle = await export_client(session, client, actor)
    return JSONResponse(bundle, media_type="application/fhir+json")


routes = [
    Route("/api/v1/notes/{note_id}", note_show, methods=["GET"]),
    Route("/api/v1/notes/{note_id}", note_autosave, methods=["POST"]),
    Route("/api/v1/clients/{client_id}/fhir", client_fhir, methods=["GET"]),
]
