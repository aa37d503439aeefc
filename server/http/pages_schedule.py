"""The week calendar, the day agenda and the weekly schedule-health summary."""

from __future__ import annotations

from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services.billing.totals import week_and_month
from server.services.scheduling.appointments import list_appointments
from server.services.scheduling.availability import blocks_between
from server.services.scheduling.health import EXPLANATIONS, week_health
from server.services.scheduling.profile import list_locations

from .context import actor_for, login_required, require_user, unit_of_work
from .pages_schedule_shared import build_days, day_bounds, money, today_for, week_from
from .params import bounded_date
from .templating import render


@login_required
async def week_view(request: Request) -> Response:
    user = require_user(request)
    start = week_from(request.query_params, user)
    begin, end = day_bounds(start, 7, user.time_zone)
    async with unit_of_work(request) as session:
        appointments = await list_appointments(session, user, begin, end, actor_for(request, user))
        blocks = await blocks_between(session, user, start, start + timedelta(days=7))
        health = await week_health(session, user, start)
        locations = {str(loc.id): loc.name for loc in await list_locations(session, user)}
    days = build_days(start, 7, user, appointments, blocks, locations, health)
    return render(
        request,
        "schedule/week.html",
        {
            "week_start": start,
            "prev_week": start - timedelta(days=7),
            "next_week": start + timedelta(days=7),
            "this_week": today_for(user),
            "days": days,
            "health": health,
            "explanations": EXPLANATIONS,
            "money": money,
            "has_blocks": bool(blocks),
        },
    )


@login_required
async def day_view(request: Request) -> Response:
    user = require_user(request)
    day = bounded_date(request.path_params["day"])
    if day is None:
        raise HTTPException(404, "Use a date like 2026-11-30.")
    begin, end = day_bounds(day, 1, user.time_zone)
    async with unit_of_work(request) as session:
        appointments = await list_appointments(session, user, begin, end, actor_for(request, user))
        blocks = await blocks_between(session, user, day, day + timedelta(days=1))
        health = await week_health(session, user, day - timedelta(days=day.weekday()))
        locations = {str(loc.id): loc.name for loc in await list_locations(session, user)}
    (view,) = build_days(day, 1, user, appointments, blocks, locations, health)
    return render(
        request,
        "schedule/day.html",
        {
            "day": view,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "explanations": EXPLANATIONS,
        },
    )


@login_required
async def health_view(request: Request) -> Response:
    user = require_user(request)
    start = week_from(request.query_params, user)
    async with unit_of_work(request) as session:
        health = await week_health(session, user, start, actor_for(request, user))
        totals = await week_and_month(session, user, start, actor_for(request, user))
    return render(
        request,
        "schedule/health.html",
        {
            "health": health,
            "totals": totals,
            "week_start": start,
            "prev_week": start - timedelta(days=7),
            "next_week": start + timedelta(days=7),
            "explanations": EXPLANATIONS,
            "money": money,
            "days": [start + timedelta(days=i) for i in range(7)],
        },
    )


routes = [
    Route("/schedule", week_view, methods=["GET"]),
    Route("/schedule/day/{day}", day_view, methods=["GET"]),
    Route("/schedule/health", health_view, methods=["GET"]),
]
