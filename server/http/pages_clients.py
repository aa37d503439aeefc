"""Client pages: the caseload, the client record with its chart panels, create and edit."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db import utcnow
from server.models import Client
from server.services.clients import (
    AddressInput,
    CaregiverInput,
    ClientInput,
    create_client,
    get_client_for,
    list_clients,
    update_client,
)
from server.services.errors import ValidationFailed
from server.services.family.access import list_sign_in_links
from server.services.family.home_program import list_items
from server.services.family.practice import adherence

from .context import actor_for, login_required, require_user, unit_of_work
from .forms import client_input_from_form
from .pages_documentation import chart_panels
from .templating import render


def _input_from_client(client: Client) -> ClientInput:
    return ClientInput(
        first_name=client.first_name,
        last_name=client.last_name,
        date_of_birth=client.date_of_birth.isoformat(),
        time_zone=client.time_zone,
        home_state=client.home_state,
        notes=client.notes,
        address=AddressInput(client.address_line, client.city, client.postal_code),
        caregivers=[
            CaregiverInput(c.name, c.relationship_to_client, c.email or "", c.phone or "")
            for c in client.caregivers
        ],
    )


def _form_context(data: ClientInput, errors: dict[str, str], **extra: object) -> dict[str, object]:
    caregivers = list(data.caregivers)
    while len(caregivers) < 2 or (len(caregivers) < 6 and not caregivers[-1].is_blank):
        caregivers.append(CaregiverInput())
    return {"data": data, "caregivers": caregivers, "errors": errors, **extra}


@login_required
async def client_list(request: Request) -> Response:
    user = require_user(request)
    search = request.query_params.get("q", "")[:100]
    async with unit_of_work(request) as session:
        clients = await list_clients(session, user, search=search)
    return render(request, "clients/list.html", {"clients": clients, "q": search})


@login_required
async def client_new(request: Request) -> Response:
    user = require_user(request)
    data = ClientInput(time_zone=user.time_zone, address=AddressInput())
    return render(request, "clients/form.html", _form_context(data, {}, client=None))


@login_required
async def client_create(request: Request) -> Response:
    user = require_user(request)
    data = client_input_from_form(await request.form())
    try:
        async with unit_of_work(request) as session:
            client = await create_client(session, user, data, actor_for(request, user))
    except ValidationFailed as exc:
        return render(
            request,
            "clients/form.html",
            _form_context(data, exc.errors, client=None),
            status_code=422,
        )
    return RedirectResponse(f"/clients/{client.id}", status_code=303)


@login_required
async def client_detail(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await get_client_for(
            session, user, request.path_params["client_id"], actor_for(request, user)
        )
        panels = await chart_panels(session, user, client, actor_for(request, user))
        program = await list_items(session, client)
        today = utcnow().astimezone(ZoneInfo(client.time_zone)).date()
        family = {
            "family_links": await list_sign_in_links(session, client),
            "program": await adherence(session, program, client.id, today),
        }
    return render(request, "clients/detail.html", {"client": client, **panels, **family})


@login_required
async def client_edit(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await get_client_for(
            session, user, request.path_params["client_id"], actor_for(request, user)
        )
    return render(
        request, "clients/form.html", _form_context(_input_from_client(client), {}, client=client)
    )


@login_required
async def client_update(request: Request) -> Response:
    user = require_user(request)
    data = client_input_from_form(await request.form())
    try:
        async with unit_of_work(request) as session:
            client = await get_client_for(
                session, user, request.path_params["client_id"], actor_for(request, user)
            )
            await update_client(session, client, data, actor_for(request, user))
    except ValidationFailed as exc:
        return render(
            request,
            "clients/form.html",
            _form_context(data, exc.errors, client=client),
            status_code=422,
        )
    return RedirectResponse(f"/clients/{client.id}", status_code=303)


routes = [
    Route("/clients", client_list, methods=["GET"]),
    Route("/clients", client_create, methods=["POST"]),
    Route("/clients/new", client_new, methods=["GET"]),
    Route("/clients/{client_id}", client_detail, methods=["GET"]),
    Route("/clients/{client_id}/edit", client_edit, methods=["GET"]),
    Route("/clients/{client_id}/edit", client_update, methods=["POST"]),
]
