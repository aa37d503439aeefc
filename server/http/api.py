"""JSON API for integrations under /api/v1; each endpoint's docstring feeds the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from server.models import AuditEntry, Client, User
from server.services.audit import list_audit
from server.services.clients import (
    CaregiverInput,
    ClientInput,
    create_client,
    get_client_for,
    list_clients,
    update_client,
)
from server.services.errors import ValidationFailed

from .context import actor_for, admin_required, login_required, require_user, unit_of_work
from .pages_admin import audit_filter_from

MAX_JSON_BYTES = 256 * 1024


def client_json(client: Client) -> dict[str, Any]:
    return {
        "id": str(client.id),
        "first_name": client.first_name,
        "last_name": client.last_name,
        "date_of_birth": client.date_of_birth.isoformat(),
        "time_zone": client.time_zone,
        "home_state": client.home_state,
        "notes": client.notes,
        "caregivers": [
            {
                "id": str(c.id),
                "name": c.name,
                "relationship": c.relationship_to_client,
                "email": c.email,
                "phone": c.phone,
            }
            for c in client.caregivers
        ],
        "created_at": client.created_at.isoformat(),
        "updated_at": client.updated_at.isoformat(),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "time_zone": user.time_zone,
    }


async def read_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON_BYTES:
        raise HTTPException(413, f"JSON bodies are limited to {MAX_JSON_BYTES} bytes.")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "The body must be a JSON object.")
    return data


def client_input_from_json(data: dict[str, Any]) -> ClientInput:
    def text(source: dict[str, Any], key: str) -> str:
        value = source.get(key, "")
        return "" if value is None else str(value)[:2000]

    raw_caregivers = data.get("caregivers", [])
    if not isinstance(raw_caregivers, list) or not all(isinstance(c, dict) for c in raw_caregivers):
        raise HTTPException(400, "caregivers must be a list of objects.")
    return ClientInput(
        first_name=text(data, "first_name"),
        last_name=text(data, "last_name"),
        date_of_birth=text(data, "date_of_birth"),
        time_zone=text(data, "time_zone"),
        home_state=text(data, "home_state"),
        notes=text(data, "notes"),
        caregivers=[
            CaregiverInput(
                text(c, "name"), text(c, "relationship"), text(c, "email"), text(c, "phone")
            )
            for c in raw_caregivers[:7]
        ],
    )


def invalid(exc: ValidationFailed) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "invalid", "message": str(exc), "fields": exc.errors}},
        status_code=422,
    )


@login_required
async def me(request: Request) -> Response:
    """
    summary: The signed-in user.
    responses:
      200: {description: The user.}
      401: {description: Not signed in.}
    """
    return JSONResponse(user_json(require_user(request)))


@login_required
async def clients_index(request: Request) -> Response:
    """
    summary: List the signed-in therapist's clients.
    parameters:
      - {name: q, in: query, required: false, schema: {type: string}}
    responses:
      200: {description: "{clients: [...]}"}
    """
    user = require_user(request)
    async with unit_of_work(request) as session:
        clients = await list_clients(session, user, search=request.query_params.get("q", ""))
    return JSONResponse({"clients": [client_json(c) for c in clients]})


@login_required
async def clients_create(request: Request) -> Response:
    """
    summary: Create a client with caregivers.
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/ClientInput"}
    responses:
      201: {description: The created client.}
      422: {description: Validation errors by field.}
    """
    user = require_user(request)
    data = client_input_from_json(await read_json(request))
    try:
        async with unit_of_work(request) as session:
            client = await create_client(session, user, data, actor_for(request, user))
            body = client_json(client)
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(body, status_code=201)


@login_required
async def clients_show(request: Request) -> Response:
    """
    summary: One client (the read is audited).
    responses:
      200: {description: The client.}
      404: {description: Not in your caseload.}
    """
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await get_client_for(
            session, user, request.path_params["client_id"], actor_for(request, user)
        )
        body = client_json(client)
    return JSONResponse(body)


@login_required
async def clients_update(request: Request) -> Response:
    """
    summary: Replace a client's details and caregivers.
    requestBody:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/ClientInput"}
    responses:
      200: {description: The updated client.}
      404: {description: Not in your caseload.}
      422: {description: Validation errors by field.}
    """
    user = require_user(request)
    data = client_input_from_json(await read_json(request))
    try:
        async with unit_of_work(request) as session:
            client = await get_client_for(
                session, user, request.path_params["client_id"], actor_for(request, user)
            )
            await update_client(session, client, data, actor_for(request, user))
            body = client_json(client)
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(body)


def audit_json(row: AuditEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": {"type": row.actor_type, "id": row.actor_id, "label": row.actor_label},
        "action": row.action,
        "object": {"type": row.object_type, "id": row.object_id},
        "outcome": row.outcome,
        "remote_addr": row.remote_addr,
        "detail": row.detail,
    }


@admin_required
async def audit_index(request: Request) -> Response:
    """
    summary: The audit log, newest first (admins only).
    parameters:
      - {name: action, in: query, required: false, schema: {type: string}}
      - {name: actor, in: query, required: false, schema: {type: string}}
      - {name: outcome, in: query, required: false, schema: {type: string}}
    responses:
      200: {description: "{entries: [...], total: N}"}
      403: {description: Not an administrator.}
    """
    async with unit_of_work(request) as session:
        rows, total = await list_audit(session, audit_filter_from(request), limit=500)
    return JSONResponse({"entries": [audit_json(r) for r in rows], "total": total})


SCHEMA_BASE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Tandem API", "version": "1"},
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "tandem_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        },
        "schemas": {
            "ClientInput": {
                "type": "object",
                "required": ["first_name", "last_name", "date_of_birth", "time_zone", "home_state"],
                "properties": {
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "date_of_birth": {"type": "string", "format": "date"},
                    "time_zone": {"type": "string", "example": "America/Chicago"},
                    "home_state": {"type": "string", "example": "IL"},
                    "notes": {"type": "string"},
                    "caregivers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "relationship": {"type": "string"},
                                "email": {"type": "string"},
                                "phone": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "security": [{"session": [], "csrf": []}],
}


@login_required
async def openapi(request: Request) -> Response:
    generator = SchemaGenerator(SCHEMA_BASE)
    schema = generator.get_schema(routes=request.app.routes)
    return JSONResponse(schema)


routes = [
    Route("/api/v1/me", me, methods=["GET"]),
    Route("/api/v1/clients", clients_index, methods=["GET"]),
    Route("/api/v1/clients", clients_create, methods=["POST"]),
    Route("/api/v1/clients/{client_id}", clients_show, methods=["GET"]),
    Route("/api/v1/clients/{client_id}", clients_update, methods=["PUT"]),
    Route("/api/v1/audit", audit_index, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"], include_in_schema=False),
]
