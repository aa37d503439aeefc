"""The public iCalendar feed: the secret in the URL is the only credential."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services.audit import Actor
from server.services.scheduling.calendar_feed import render_feed

from .context import client_ip, unit_of_work


async def calendar_feed(request: Request) -> Response:
    actor = Actor("link", None, "calendar-feed", client_ip(request))
    async with unit_of_work(request) as session:
        body = await render_feed(session, request.path_params["token"], actor)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"cache-control": "private, max-age=300", "referrer-policy": "no-referrer"},
    )


routes = [Route("/calendar/{token}.ics", calendar_feed, methods=["GET"])]
