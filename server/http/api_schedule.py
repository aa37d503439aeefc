"""JSON API for appointments, availability and schedule health under /api/v1."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.models import Appointment, AvailabilityBlock
from server.services.audit import add_audit
from server.services.scheduling import availability
from server.services.scheduling.appointments import (
    BookingRefused,
    book_appointment,
    get_appointment_for,
    list_appointments,
    record_refused_booking,
    set_status,
)
from server.services.scheduling.checks import check_booking, clean_booking
from server.services.scheduling.common import NotFound, ValidationFailed
from server.services.scheduling.health import week_health

from .api import invalid, read_json
from .context import actor_for, app_state, login_required, require_user, unit_of_work
from .pages_schedule_shared import booking_from_mapping, day_bounds, problems_json, week_from


def appointment_json(a: Appointment) -> dict[str, Any]:
    client_zone = a.client.time_zone
    return {
        "id": str(a.id),
        "client": {"id": str(a.client_id), "name": a.client.full_name, "time_zone": client_zone},
        "series_id": str(a.series_id) if a.series_id else None,
        "starts_at": a.starts_at.isoformat(),
        "ends_at": a.ends_at.isoformat(),
        "client_local_start": a.starts_at.astimezone(ZoneInfo(client_zone)).isoformat(),
        "mode": a.mode,
        "location": (
            {"id": str(a.location.id), "name": a.location.name, "kind": a.location.kind}
            if a.location
            else None
        ),
        "client_state": a.client_state,
        "service_type": a.service_type,
        "status": a.status,
        "cancel_reason": a.cancel_reason,
        "rate_cents": a.rate_cents,
        "override_reason": a.override_reason,
        "overridden": a.overridden,
        "video_session_id": a.video_session_id,
    }


def block_json(b: AvailabilityBlock) -> dict[str, Any]:
    return {
        "id": str(b.id),
        "weekday": b.weekday,
        "start_time": f"{b.start_time:%H:%M}",
        "end_time": f"{b.end_time:%H:%M}",
        "mode": b.mode,
        "location_id": str(b.location_id) if b.location_id else None,
    }


@login_required
async def appointments_index(request: Request) -> Response:
    """
    summary: The signed-in therapist's appointments for one week (Monday start, own zone).
    parameters:
      - {name: week, in: query, required: false, schema: {type: string, format: date}}
    responses:
      200: {description: "{week: date, appointments: [...]}"}
    """
    user = require_user(request)
    start = week_from(request.query_params, user)
    begin, end = day_bounds(start, 7, user.time_zone)
    async with unit_of_work(request) as session:
        rows = await list_appointments(session, user, begin, end, actor_for(request, user))
        body = {"week": start.isoformat(), "appointments": [appointment_json(a) for a in rows]}
    return JSONResponse(body)


@login_required
async def appointments_create(request: Request) -> Response:
    """
    summary: Book a visit or a weekly series.
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [client_id, date, start_time, mode, service_type]
            properties:
              client_id: {type: string, format: uuid}
              date: {type: string, format: date, description: In the therapist's zone}
              start_time: {type: string, example: "16:00"}
              duration_minutes: {type: integer, default: 60}
              mode: {type: string, enum: [in_person, telehealth]}
              location_id: {type: string, format: uuid, description: Required in person}
              service_type: {type: string, example: ot_treatment}
              client_state: {type: string, example: WI, description: Default client home state}
              repeat: {type: string, enum: [none, weekly]}
              repeat_count: {type: integer, minimum: 2, maximum: 52}
              repeat_until: {type: string, format: date}
              override_reason: {type: string, description: Overrides outside-block and travel}
    responses:
      201: {description: "{appointments: [...]}"}
      409: {description: "Refused: {error: {code: refused, problems: [...]}}"}
      422: {description: Validation errors by field.}
    """
    user = require_user(request)
    data = booking_from_mapping(await read_json(request))
    actor = actor_for(request, user)
    try:
        async with unit_of_work(request) as session:
            booked = await book_appointment(session, user, data, actor)
            body = {"appointments": [appointment_json(a) for a in booked.appointments]}
    except ValidationFailed as exc:
        return invalid(exc)
    except BookingRefused as exc:
        await record_refused_booking(app_state(request).audit, actor, data, exc)
        return JSONResponse(
            {
                "error": {
                    "code": "refused",
                    "message": str(exc),
                    "problems": problems_json(exc.problems),
                }
            },
            status_code=409,
        )
    return JSONResponse(body, status_code=201)


@login_required
async def appointments_check(request: Request) -> Response:
    """
    summary: Check a booking without saving it (the booking form calls this as fields change).
    requestBody:
      content:
        application/json:
          schema:
            type: object
            description: The fields of POST /api/v1/appointments, plus appointment_id if editing
    responses:
      200: {description: "{ok, errors: {field: msg}, problems: [...], occurrences, client_local}"}
    """
    user = require_user(request)
    payload = await read_json(request)
    data = booking_from_mapping(payload)
    exclude = str(payload.get("appointment_id", "") or "")
    async with unit_of_work(request) as session:
        try:
            booking = await clean_booking(session, user, data)
        except ValidationFailed as exc:
            return JSONResponse({"ok": False, "errors": exc.errors, "problems": []})
        actor = actor_for(request, user)
        excluded = set()
        if exclude:
            with contextlib.suppress(NotFound):
                excluded.add((await get_appointment_for(session, user, exclude, actor)).id)
        result = await check_booking(session, user, booking, exclude_ids=excluded)
        blocking = result.blocking(
            override_reason=booking.override_reason, allow_licensure_override=False
        )
        # The answer names other visits (conflicts), so the check is a read worth auditing.
        add_audit(
            session,
            actor,
            "appointment.check",
            object_type="client",
            object_id=booking.client.id,
            detail={"problems": sorted({p.code for p in result.problems})},
        )
    return JSONResponse(
        {
            "ok": not blocking,
            "errors": {},
            "problems": problems_json(result.problems),
            "blocking": problems_json(blocking),
            "occurrences": len(booking.occurrences),
            # The family's own clock for the first visit: the form shows both parties' times.
            "client_local": booking.occurrences[0]
            .starts_at.astimezone(ZoneInfo(booking.client.time_zone))
            .strftime("%a %b %-d, %-I:%M %p %Z"),
            "client_zone": booking.client.time_zone,
        }
    )


@login_required
async def appointments_show(request: Request) -> Response:
    """
    summary: One appointment (the read is audited).
    responses:
      200: {description: The appointment.}
      404: {description: Not on your schedule.}
    """
    user = require_user(request)
    async with unit_of_work(request) as session:
        appt = await get_appointment_for(
            session, user, request.path_params["appointment_id"], actor_for(request, user)
        )
        body = appointment_json(appt)
    return JSONResponse(body)


@login_required
async def appointments_status(request: Request) -> Response:
    """
    summary: Change an appointment's status (cancelled needs a reason).
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [status]
            properties:
              status: {type: string, enum: [checked_in, in_session, completed, cancelled, no_show]}
              reason: {type: string}
    responses:
      200: {description: The updated appointment.}
      404: {description: Not on your schedule.}
      422: {description: Not allowed from the current status, or a missing reason.}
    """
    user = require_user(request)
    payload = await read_json(request)
    try:
        async with unit_of_work(request) as session:
            appt = await get_appointment_for(
                session, user, request.path_params["appointment_id"], actor_for(request, user)
            )
            await set_status(
                session,
                appt,
                str(payload.get("status", ""))[:20],
                actor_for(request, user),
                reason=str(payload.get("reason", "") or "")[:300],
            )
            body = appointment_json(appt)
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(body)


@login_required
async def availability_index(request: Request) -> Response:
    """
    summary: The weekly template and the concrete blocks of one week (exceptions applied).
    parameters:
      - {name: week, in: query, required: false, schema: {type: string, format: date}}
    responses:
      200: {description: "{time_zone, template: [...], week: [...]}"}
    """
    user = require_user(request)
    start = week_from(request.query_params, user)
    async with unit_of_work(request) as session:
        template = await availability.list_blocks(session, user)
        week = await availability.blocks_between(session, user, start, start + timedelta(days=7))
    return JSONResponse(
        {
            "time_zone": user.time_zone,
            "template": [block_json(b) for b in template],
            "week": [
                {
                    "date": b.day.isoformat(),
                    "starts_at": b.starts_at.isoformat(),
                    "ends_at": b.ends_at.isoformat(),
                    "mode": b.mode,
                    "location_id": str(b.location_id) if b.location_id else None,
                    "source": b.source,
                }
                for b in week
            ],
        }
    )


@login_required
async def availability_create(request: Request) -> Response:
    """
    summary: Add a weekly template block (times in the therapist's zone).
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [weekday, start_time, end_time, mode]
            properties:
              weekday: {type: integer, minimum: 0, maximum: 6, description: Monday is 0}
              start_time: {type: string, example: "08:00"}
              end_time: {type: string, example: "12:00"}
              mode: {type: string, enum: [in_person, telehealth]}
              location_id: {type: string, format: uuid}
    responses:
      201: {description: The block.}
      422: {description: Validation errors by field.}
    """
    user = require_user(request)
    p = await read_json(request)
    # str(), not `or ""`: weekday 0 (Monday) is falsy but meaningful.
    data = availability.BlockInput(
        *(
            "" if p.get(k) is None else str(p[k])[:36]
            for k in availability.BlockInput.__dataclass_fields__
        )
    )
    try:
        async with unit_of_work(request) as session:
            block = await availability.add_block(session, user, data, actor_for(request, user))
            body = block_json(block)
    except ValidationFailed as exc:
        return invalid(exc)
    return JSONResponse(body, status_code=201)


@login_required
async def availability_delete(request: Request) -> Response:
    """
    summary: Remove a weekly template block.
    responses:
      204: {description: Removed.}
      404: {description: Not one of your blocks.}
    """
    user = require_user(request)
    async with unit_of_work(request) as session:
        await availability.remove_block(
            session, user, request.path_params["block_id"], actor_for(request, user)
        )
    return Response(status_code=204)


@login_required
async def health_show(request: Request) -> Response:
    """
    summary: Schedule health for one week (flags with explanations, hours and income per mode).
    parameters:
      - {name: week, in: query, required: false, schema: {type: string, format: date}}
    responses:
      200: {description: "{week, flags: [...], switches_by_day, totals}"}
    """
    user = require_user(request)
    start = week_from(request.query_params, user)
    async with unit_of_work(request) as session:
        health = await week_health(session, user, start, actor_for(request, user))
    return JSONResponse(
        {
            "week": start.isoformat(),
            "flags": [
                {
                    "kind": f.kind,
                    "date": f.day.isoformat(),
                    "message": f.message,
                    "why": f.why,
                    "appointment_id": f.appointment_id,
                }
                for f in health.flags
            ],
            "switches_by_day": {d.isoformat(): n for d, n in health.switches_by_day.items()},
            "totals": {
                mode: {"count": t.count, "hours": t.hours, "income_cents": t.income_cents}
                for mode, t in health.totals.items()
            },
        }
    )


routes = [
    Route("/api/v1/appointments", appointments_index, methods=["GET"]),
    Route("/api/v1/appointments", appointments_create, methods=["POST"]),
    Route("/api/v1/appointments/check", appointments_check, methods=["POST"]),
    Route("/api/v1/appointments/{appointment_id}", appointments_show, methods=["GET"]),
    Route("/api/v1/appointments/{appointment_id}/status", appointments_status, methods=["POST"]),
    Route("/api/v1/availability", availability_index, methods=["GET"]),
    Route("/api/v1/availability/blocks", availability_create, methods=["POST"]),
    Route("/api/v1/availability/blocks/{block_id}", availability_delete, methods=["DELETE"]),
    Route("/api/v1/schedule/health", health_show, methods=["GET"]),
]
