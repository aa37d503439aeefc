"""The home page: the week's schedule and its health, licensure warnings, notes to finish and
what falls due, the caseload."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services.clients import count_clients, list_clients
from server.services.scheduling.appointments import list_appointments
from server.services.scheduling.health import upcoming_licensure_problems, week_health
from server.services.scheduling.licensure import expiring_licenses

from .context import actor_for, login_required, require_user, unit_of_work
from .pages_documentation import dashboard
from .pages_schedule_shared import ApptView, day_bounds, money, today_for
from .templating import render


@login_required
async def home(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        clients = await list_clients(session, user)
        total = await count_clients(session, user)
        today = today_for(user)
        monday = today - timedelta(days=today.weekday())
        begin, end = day_bounds(monday, 7, user.time_zone)
        appointments = await list_appointments(session, user, begin, end, actor_for(request, user))
        schedule = {
            "appointments": [ApptView(a, user.time_zone) for a in appointments],
            "health": await week_health(session, user, monday),
            "warnings": await expiring_licenses(session, user, today),
            "unlicensed": [
                (ApptView(a, user.time_zone), message)
                for a, message in await upcoming_licensure_problems(session, user)
            ],
            "money": money,
        }
        documentation = await dashboard(session, user)
    return render(
        request,
        "home.html",
        {
            "clients": clients[:8],
            "client_count": total,
            "schedule": schedule,
            "documentation": documentation,
        },
    )


routes = [Route("/", home, methods=["GET"])]
