"""Note pages: the draft editor (autosaved), signing, addenda, the print view."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.models import Appointment, Note, User
from server.services.audit import Actor, record_audit
from server.services.billing.charges import charge_of_note, propose_charge
from server.services.clients import find_client, get_client_for
from server.services.documentation.common import NotAuthor, NoteSigned, ValidationFailed
from server.services.documentation.consent import telehealth_consent_for
from server.services.documentation.drafting import draft_note, draft_progress_report
from server.services.documentation.notes import (
    NOTE_TYPES,
    NoteEdit,
    add_addendum,
    get_note_for,
    list_addenda,
    note_authors,
    note_discipline,
    note_verifies,
    sign_note,
    update_note,
)
from server.services.documentation.procedures import CATALOG, codes_for
from server.services.scheduling.appointments import get_appointment_for

from .context import actor_for, app_state, login_required, operation_of, require_user, unit_of_work
from .templating import render

EDIT_FIELDS = (
    "subjective", "objective", "assessment", "plan", "present", "modality",
    "client_location_state", "telehealth_consent", "client_at_home", "time_in", "time_out",
)  # fmt: skip
PROCEDURE_ROWS = 8


def note_edit_from(data: FormData | dict[str, Any]) -> NoteEdit:
    """Only the fields present are applied: autosave sends what the form holds."""
    values = {name: str(data[name])[:20000] for name in EDIT_FIELDS if name in data}
    measures = {
        str(key).removeprefix("measure-"): str(value)[:20]
        for key, value in data.items()
        if str(key).startswith("measure-")
    }
    procedures = None
    if any(f"proc-code-{i}" in data for i in range(PROCEDURE_ROWS)):
        procedures = [
            (str(data.get(f"proc-code-{i}", ""))[:5], str(data.get(f"proc-minutes-{i}", ""))[:4])
            for i in range(PROCEDURE_ROWS)
        ]
    return NoteEdit(**values, measures=measures or None, procedures=procedures)


async def refused(request: Request, user: User, action: str, note_id: object, why: str) -> None:
    """A refusal keeps its audit row: written in a transaction of its own."""
    await record_audit(
        app_state(request).audit, actor_for(request, user), action, object_type="note",
        object_id=str(note_id), outcome="refused",
        detail={"reason": why, "request": operation_of(request)},
    )  # fmt: skip


async def _load(session: AsyncSession, request: Request, user: User) -> Note:
    return await get_note_for(
        session, user, request.path_params["note_id"], actor_for(request, user)
    )


@login_required
async def note_page(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        note = await _load(session, request, user)
        context = await note_context(session, user, note, actor_for(request, user))
    return render(request, "documentation/note.html", context)


async def note_context(
    session: AsyncSession,
    user: User,
    note: Note,
    actor: Actor,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    addenda = await list_addenda(session, note)
    client = await find_client(session, note.client_id)
    authors = await note_authors(session, note, addenda)
    rows = max(3, min(PROCEDURE_ROWS, len(note.procedures) + 2))
    return {
        "zone": authors.zone,
        "authors": authors.names,
        "catalog": codes_for(await note_discipline(session, note)),
        "all_codes": CATALOG,
        "procedure_rows": rows,
        "charge": await charge_of_note(session, note.id, actor),
        "note": note,
        "client": client,
        "addenda": addenda,
        "verified": note_verifies(note, addenda) if note.is_signed else None,
        "editable": not note.is_signed and note.author_id == user.id,
        "errors": errors or {},
        "note_types": NOTE_TYPES,
        "facts": note.session_facts or {},
        "consent_on_file": (
            await telehealth_consent_for(session, note.client_id, note.service_date)
            if note.mode == "telehealth"
            else None
        ),
    }


async def _with_errors(request: Request, user: User, errors: dict[str, str]) -> Response:
    """The note page again, in a fresh unit of work (the failed one rolled back), with errors."""
    async with unit_of_work(request) as session:
        note = await _load(session, request, user)
        context = await note_context(session, user, note, actor_for(request, user), errors)
    return render(request, "documentation/note.html", context, status_code=422)


@login_required
async def note_save(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        async with unit_of_work(request) as session:
            note = await _load(session, request, user)
            await update_note(session, user, note, note_edit_from(form), actor_for(request, user))
    except NoteSigned as exc:
        await refused(request, user, "note.update", request.path_params["note_id"], exc.reason)
        raise
    except ValidationFailed as exc:
        return await _with_errors(request, user, exc.errors)
    return RedirectResponse(f"/notes/{note.id}", status_code=303)


@login_required
async def note_sign(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        async with unit_of_work(request) as session:
            note = await _load(session, request, user)
            # The form carries the last edits: signing what is on screen, not an older save.
            await sign_note(
                session, user, note, actor_for(request, user), edit=note_edit_from(form)
            )
            # Signing proposes the visit's charge for the therapist to review and confirm.
            charge = await propose_charge(session, user, note, actor_for(request, user))
    except NoteSigned as exc:
        await refused(request, user, "note.sign", request.path_params["note_id"], exc.reason)
        raise
    except NotAuthor as exc:
        await refused(request, user, "note.sign", request.path_params["note_id"], str(exc))
        raise
    except ValidationFailed as exc:
        return await _with_errors(request, user, exc.errors)
    if charge is not None:
        return RedirectResponse(f"/billing/charges/{charge.id}", status_code=303)
    return RedirectResponse(f"/notes/{note.id}", status_code=303)


@login_required
async def addendum_create(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    reason, text = str(form.get("reason", ""))[:300], str(form.get("text", ""))[:20000]
    try:
        async with unit_of_work(request) as session:
            note = await _load(session, request, user)
            await add_addendum(session, user, note, reason, text, actor_for(request, user))
    except ValidationFailed as exc:
        return await _with_errors(request, user, exc.errors)
    return RedirectResponse(f"/notes/{note.id}#addenda", status_code=303)


@login_required
async def note_for_appointment(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        appt: Appointment = await get_appointment_for(
            session, user, request.path_params["appointment_id"], actor
        )
        note = await draft_note(session, user, appt, actor)
    return RedirectResponse(f"/notes/{note.id}", status_code=303)


@login_required
async def progress_report_create(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        note = await draft_progress_report(session, user, client.id, actor)
    return RedirectResponse(f"/notes/{note.id}", status_code=303)


routes = [
    Route("/notes/{note_id}", note_page, methods=["GET"]),
    Route("/notes/{note_id}", note_save, methods=["POST"]),
    Route("/notes/{note_id}/sign", note_sign, methods=["POST"]),
    Route("/notes/{note_id}/addenda", addendum_create, methods=["POST"]),
    Route("/appointments/{appointment_id}/note", note_for_appointment, methods=["POST"]),
    Route("/clients/{client_id}/progress-report", progress_report_create, methods=["POST"]),
]
