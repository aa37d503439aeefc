"""The therapist's side of family access, on the client's page: email a caregiver a sign-in
link, withdraw one, add to the home program."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.mail.worker import wake_outbox
from server.services.clients import get_client_for
from server.services.family.access import issue_sign_in_link, revoke_sign_in_link
from server.services.family.home_program import add_item

from .context import actor_for, app_state, login_required, require_user, unit_of_work
from .pages_video import base_url


def _back(client_id: object) -> Response:
    return RedirectResponse(f"/clients/{client_id}#family", status_code=303)


@login_required
async def link_create(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await issue_sign_in_link(
            session, user, client, str(form.get("caregiver_id", ""))[:64], base_url(request), actor
        )
    wake_outbox(app_state(request))
    return _back(client.id)


@login_required
async def link_revoke(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await revoke_sign_in_link(session, client, request.path_params["link_id"], actor)
    return _back(client.id)


@login_required
async def item_create(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await add_item(
            session, user, client, str(form.get("title", ""))[:200],
            str(form.get("instruction", ""))[:2000], actor,
        )  # fmt: skip
    return _back(client.id)


routes = [
    Route("/clients/{client_id}/family-links", link_create, methods=["POST"]),
    Route("/clients/{client_id}/family-links/{link_id}/revoke", link_revoke, methods=["POST"]),
    Route("/clients/{client_id}/home-program", item_create, methods=["POST"]),
]
