"""The practice profile: time zone, licenses, locations, rates, availability, calendar feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.models import User
from server.services.audit import Actor
from server.services.scheduling import availability, calendar_feed, profile
from server.services.scheduling.common import SERVICE_TYPES, ValidationFailed
from server.services.scheduling.licensure import expiring_licenses, list_licenses

from .context import actor_for, login_required, require_user, unit_of_work
from .pages_schedule_shared import money, today_for
from .templating import render

Action = Callable[[AsyncSession, User, FormData, Actor], Awaitable[object]]


def _text(form: FormData, name: str, limit: int = 300) -> str:
    return str(form.get(name, ""))[:limit]


async def _page(
    request: Request,
    user: User,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    today = today_for(user)
    async with unit_of_work(request) as session:
        context = {
            "licenses": await list_licenses(session, user),
            "warnings": await expiring_licenses(session, user, today),
            "locations": await profile.list_locations(session, user),
            "rates": await profile.list_rates(session, user),
            "prefs": await profile.get_preferences(session, user),
            "blocks": await availability.list_blocks(session, user),
            "exceptions": await availability.list_exceptions(
                session, user, today, today + timedelta(days=120)
            ),
            "feed": await calendar_feed.active_feed(session, user),
        }
    context.update(
        today=today,
        errors=errors or {},
        weekdays=availability.WEEKDAYS,
        service_types=SERVICE_TYPES,
        money=money,
        new_feed_url=extra.pop("new_feed_url", None),
        form=extra.pop("form", {}),
    )
    return render(request, "profile/index.html", context, status_code=status_code)


@login_required
async def profile_page(request: Request) -> Response:
    return await _page(request, require_user(request))


def _handler(section: str, action: Action) -> Callable[[Request], Awaitable[Response]]:
    @login_required
    async def endpoint(request: Request) -> Response:
        user = require_user(request)
        form = await request.form()
        try:
            async with unit_of_work(request) as session:
                await action(session, user, form, actor_for(request, user))
        except ValidationFailed as exc:
            return await _page(
                request,
                user,
                errors={section: exc.errors},
                status_code=422,
                form={k: str(v) for k, v in form.items() if k != "csrf_token"},
            )
        return RedirectResponse(f"/profile#{section}", status_code=303)

    return endpoint


async def _time_zone(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await profile.set_time_zone(s, u, _text(f, "time_zone", 64), a)


async def _license_add(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await profile.add_license(
        s,
        u,
        kind=_text(f, "kind", 20),
        state=_text(f, "state", 2),
        number=_text(f, "number", 60),
        expires_on=_text(f, "expires_on", 10),
        actor=a,
    )


async def _location_add(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await profile.add_location(
        s, u, kind=_text(f, "kind", 20), name=_text(f, "name"), address=_text(f, "address"), actor=a
    )


async def _rate_set(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await profile.set_rate(
        s,
        u,
        service_type=_text(f, "service_type", 40),
        mode=_text(f, "mode", 20) or None,
        amount=_text(f, "amount", 20),
        actor=a,
    )


async def _prefs(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await profile.set_preferences(
        s,
        u,
        travel_buffer_minutes=_text(f, "travel_buffer_minutes", 5),
        long_gap_minutes=_text(f, "long_gap_minutes", 5),
        actor=a,
    )


async def _block_add(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    data = availability.BlockInput(
        _text(f, "weekday", 1),
        _text(f, "start_time", 5),
        _text(f, "end_time", 5),
        _text(f, "mode", 20),
        _text(f, "location_id", 36),
    )
    await availability.add_block(s, u, data, a)


async def _exception_add(s: AsyncSession, u: User, f: FormData, a: Actor) -> None:
    await availability.add_exception(
        s,
        u,
        on_date=_text(f, "on_date", 10),
        kind=_text(f, "kind", 20),
        start_time=_text(f, "start_time", 5),
        end_time=_text(f, "end_time", 5),
        mode=_text(f, "mode", 20),
        location_id=_text(f, "location_id", 36),
        note=_text(f, "note", 200),
        actor=a,
    )


def _remover(
    fn: Callable[[AsyncSession, User, str, Actor], Awaitable[None]], section: str
) -> Callable[[Request], Awaitable[Response]]:
    @login_required
    async def endpoint(request: Request) -> Response:
        user = require_user(request)
        async with unit_of_work(request) as session:
            await fn(session, user, request.path_params["item_id"], actor_for(request, user))
        return RedirectResponse(f"/profile#{section}", status_code=303)

    return endpoint


@login_required
async def feed_create(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        new = await calendar_feed.create_feed(session, user, actor_for(request, user))
    # Shown once, never stored in the clear: the page is the only place it appears.
    url = str(request.base_url).rstrip("/") + new.path
    return await _page(request, user, new_feed_url=url)


@login_required
async def feed_revoke(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        await calendar_feed.revoke_feed(session, user, actor_for(request, user))
    return RedirectResponse("/profile#calendar", status_code=303)


routes = [
    Route("/profile", profile_page, methods=["GET"]),
    Route("/profile/time-zone", _handler("zone", _time_zone), methods=["POST"]),
    Route("/profile/licenses", _handler("licenses", _license_add), methods=["POST"]),
    Route(
        "/profile/licenses/{item_id}/delete",
        _remover(profile.remove_license, "licenses"),
        methods=["POST"],
    ),
    Route("/profile/locations", _handler("locations", _location_add), methods=["POST"]),
    Route(
        "/profile/locations/{item_id}/archive",
        _remover(profile.archive_location, "locations"),
        methods=["POST"],
    ),
    Route("/profile/rates", _handler("rates", _rate_set), methods=["POST"]),
    Route("/profile/preferences", _handler("preferences", _prefs), methods=["POST"]),
    Route("/profile/availability/blocks", _handler("availability", _block_add), methods=["POST"]),
    Route(
        "/profile/availability/blocks/{item_id}/delete",
        _remover(availability.remove_block, "availability"),
        methods=["POST"],
    ),
    Route(
        "/profile/availability/exceptions",
        _handler("exceptions", _exception_add),
        methods=["POST"],
    ),
    Route(
        "/profile/availability/exceptions/{item_id}/delete",
        _remover(availability.remove_exception, "exceptions"),
        methods=["POST"],
    ),
    Route("/profile/calendar-feed", feed_create, methods=["POST"]),
    Route("/profile/calendar-feed/revoke", feed_revoke, methods=["POST"]),
]
