"""Booking form, appointment page, status changes, rescheduling and parent invites."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.mail.worker import wake_outbox
from server.models import Appointment, User
from server.services.clients import list_clients
from server.services.family.forms import form_statuses
from server.services.scheduling.appointments import (
    BookingRefused,
    book_appointment,
    get_appointment_for,
    record_refused_booking,
    reschedule,
    set_status,
)
from server.services.scheduling.checks import BookingInput, Problem
from server.services.scheduling.common import SERVICE_TYPES, ValidationFailed
from server.services.scheduling.licensure import check_telehealth_licensure
from server.services.scheduling.outbox import list_outbox_for, queue_invite
from server.services.scheduling.profile import list_locations
from server.services.scheduling.session_gate import begin_telehealth_session

from .context import actor_for, app_state, login_required, require_user, unit_of_work
from .pages_appointment_video import video_context
from .pages_schedule_shared import ApptView, booking_from_mapping, money, today_for
from .templating import render


async def _form_context(
    request: Request,
    user: User,
    data: BookingInput,
    errors: dict[str, str],
    problems: list[Problem],
    appointment: Appointment | None = None,
) -> dict[str, Any]:
    async with unit_of_work(request) as session:
        clients = await list_clients(session, user)
        locations = await list_locations(session, user)
    return {
        "data": data,
        "errors": errors,
        "problems": problems,
        "needs_override": any(p.overridable for p in problems),
        "clients": clients,
        "locations": locations,
        "service_types": SERVICE_TYPES,
        "appointment": appointment,
        "zone": user.time_zone,
    }


@login_required
async def booking_new(request: Request) -> Response:
    user = require_user(request)
    params = request.query_params
    data = BookingInput(
        client_id=params.get("client", "")[:36],
        date=params.get("date", "")[:10] or today_for(user).isoformat(),
        start_time=params.get("time", "")[:5],
        mode=params.get("mode", "")[:20],
    )
    return render(request, "schedule/form.html", await _form_context(request, user, data, {}, []))


@login_required
async def booking_create(request: Request) -> Response:
    user = require_user(request)
    data = booking_from_mapping(await request.form())
    actor = actor_for(request, user)
    try:
        async with unit_of_work(request) as session:
            booked = await book_appointment(session, user, data, actor)
            first = booked.appointments[0].id
    except ValidationFailed as exc:
        context = await _form_context(request, user, data, exc.errors, [])
        return render(request, "schedule/form.html", context, status_code=422)
    except BookingRefused as exc:
        await record_refused_booking(app_state(request).audit, actor, data, exc)
        context = await _form_context(request, user, data, {}, exc.problems)
        return render(request, "schedule/form.html", context, status_code=422)
    return RedirectResponse(f"/schedule/appointments/{first}?booked=1", status_code=303)


async def _load(request: Request, user: User) -> tuple[Appointment, dict[str, Any]]:
    async with unit_of_work(request) as session:
        appt = await get_appointment_for(
            session, user, request.path_params["appointment_id"], actor_for(request, user)
        )
        licensure = None
        if appt.mode == "telehealth":
            on = appt.starts_at.astimezone(ZoneInfo(user.time_zone)).date()
            licensure = await check_telehealth_licensure(session, user, appt.client_state, on)
        outbox = await list_outbox_for(session, appt)
        video = await video_context(request, session, appt)
        forms = await form_statuses(session, appt.client_id)
    return appt, {"licensure": licensure, "outbox": outbox, "forms": forms, **video}


@login_required
async def appointment_detail(request: Request) -> Response:
    user = require_user(request)
    appt, extra = await _load(request, user)
    return render(
        request,
        "schedule/appointment.html",
        {
            "a": ApptView(appt, user.time_zone),
            "appt": appt,
            "money": money,
            "booked": request.query_params.get("booked") == "1",
            "errors": {},
            **extra,
        },
    )


@login_required
async def appointment_status(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    status = str(form.get("status", ""))[:20]
    reason = str(form.get("reason", ""))[:300]
    try:
        async with unit_of_work(request) as session:
            appt = await get_appointment_for(
                session, user, request.path_params["appointment_id"], actor_for(request, user)
            )
            if status == "in_session" and appt.mode == "telehealth":
                # Starting telehealth always passes the licensure gate again: licenses lapse.
                result = await begin_telehealth_session(
                    session, user, appt, actor_for(request, user)
                )
                if not result.allowed:
                    raise ValidationFailed({"licensure": result.message})
            else:
                await set_status(session, appt, status, actor_for(request, user), reason=reason)
    except ValidationFailed as exc:
        appt, extra = await _load(request, user)
        context = {"a": ApptView(appt, user.time_zone), "appt": appt, "money": money}
        context.update(booked=False, errors=exc.errors, **extra)
        return render(request, "schedule/appointment.html", context, status_code=422)
    return RedirectResponse(f"/schedule/appointments/{appt.id}", status_code=303)


def _input_from(appt: Appointment, zone: str) -> BookingInput:
    local = appt.starts_at.astimezone(ZoneInfo(zone))
    return BookingInput(
        client_id=str(appt.client_id),
        date=local.date().isoformat(),
        start_time=f"{local:%H:%M}",
        duration_minutes=str(int((appt.ends_at - appt.starts_at).total_seconds() // 60)),
        mode=appt.mode,
        location_id=str(appt.location_id or ""),
        service_type=appt.service_type,
        client_state=appt.client_state,
    )


@login_required
async def appointment_edit(request: Request) -> Response:
    user = require_user(request)
    appt, _ = await _load(request, user)
    data = _input_from(appt, user.time_zone)
    context = await _form_context(request, user, data, {}, [], appointment=appt)
    return render(request, "schedule/form.html", context)


@login_required
async def appointment_update(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    data = booking_from_mapping(form)
    scope = "following" if form.get("scope") == "following" else "one"
    actor = actor_for(request, user)
    appt: Appointment | None = None
    try:
        async with unit_of_work(request) as session:
            appt = await get_appointment_for(
                session, user, request.path_params["appointment_id"], actor
            )
            await reschedule(session, user, appt, data, actor, scope=scope)
    except (ValidationFailed, BookingRefused) as exc:
        errors = exc.errors if isinstance(exc, ValidationFailed) else {}
        problems = exc.problems if isinstance(exc, BookingRefused) else []
        context = await _form_context(request, user, data, errors, problems, appointment=appt)
        return render(request, "schedule/form.html", context, status_code=422)
    return RedirectResponse(f"/schedule/appointments/{appt.id}", status_code=303)


@login_required
async def appointment_invite(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    caregiver_id = str(form.get("caregiver_id", ""))[:36]
    async with unit_of_work(request) as session:
        appt = await get_appointment_for(
            session, user, request.path_params["appointment_id"], actor_for(request, user)
        )
        await queue_invite(session, user, appt, caregiver_id, actor_for(request, user))
    # The outbox worker sends it after the commit: a slow or failing server never loses it.
    wake_outbox(app_state(request))
    return RedirectResponse(f"/schedule/appointments/{appt.id}", status_code=303)


routes = [
    Route("/schedule/new", booking_new, methods=["GET"]),
    Route("/schedule/appointments", booking_create, methods=["POST"]),
    Route("/schedule/appointments/{appointment_id}", appointment_detail, methods=["GET"]),
    Route("/schedule/appointments/{appointment_id}/status", appointment_status, methods=["POST"]),
    Route("/schedule/appointments/{appointment_id}/edit", appointment_edit, methods=["GET"]),
    Route("/schedule/appointments/{appointment_id}/edit", appointment_update, methods=["POST"]),
    Route("/schedule/appointments/{appointment_id}/invite", appointment_invite, methods=["POST"]),
]
