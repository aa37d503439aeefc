from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services.clients import count_clients, list_clients

from .context import login_required, require_user, unit_of_work
from .templating import render


@login_required
async def home(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        clients = await list_clients(session, user)
        total = await count_clients(session, user)
    return render(request, "home.html", {"clients": clients[:8], "client_count": total})


routes = [Route("/", home, methods=["GET"])]
