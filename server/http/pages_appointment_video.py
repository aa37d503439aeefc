"""Start a telehealth visit's video session in one click; invite; the parent's location check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.mail.worker import wake_outbox
from server.models import Appointment, User
from server.services.audit import Actor
from server.services.scheduling.appointments import get_appointment_for
from server.services.video.location import confirm_location as confirm_family_location
from server.services.video.visits import (
    get_visit_video,
    queue_join_link,
    start_appointment_video,
)
from server.video.runtime import video_runtime
from signaling.tokens import LinkGone, LinkInvalid

from .context import actor_for, app_state, client_ip, login_required, require_user, unit_of_work
from .errors import error_response
from .pages_video import base_url, join_url


async def video_context(request: Request, session: Any, appt: Appointment) -> dict[str, Any]:
    """What the appointment page shows about the visit's video session, if there is one."""
    if not appt.video_session_id or "video" not in app_state(request).extras:
        return {"video": None, "parent_url": None}
    found = await get_visit_video(session, appt, video_runtime(app_state(request)).signer)
    if found is None:
        return {"video": None, "parent_url": None}
    token = found.parent_token
    return {
        "video": found.video,
        "parent_url": join_url(request, found.video.id, token) if token else None,
    }


async def _appointment(request: Request, session: Any, user: User) -> Appointment:
    return await get_appointment_for(
        session, user, request.path_params["appointment_id"], actor_for(request, user)
    )


@login_required
async def start_video(request: Request) -> Response:
    user = require_user(request)
    state = app_state(request)
    runtime = video_runtime(state)
    async with unit_of_work(request) as session:
        appt = await _appointment(request, session, user)
        outcome = await start_appointment_video(
            session,
            user,
            appt,
            runtime.signer,
            actor_for(request, user),
            grace=timedelta(minutes=state.settings.join_link_grace_minutes),
        )
    if outcome.video is None:
        # The refusal was audited in the unit of work above; the message names state and fix.
        return error_response(request, 409, outcome.licensure.message)
    return RedirectResponse(f"/sessions/{outcome.video.id}/call", status_code=303)


@login_required
async def send_join_link(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    async with unit_of_work(request) as session:
        appt = await _appointment(request, session, user)
        await queue_join_link(
            session,
            user,
            appt,
            str(form.get("caregiver_id", ""))[:64],
            video_runtime(app_state(request)).signer,
            base_url(request),
            actor_for(request, user),
        )
    wake_outbox(app_state(request))
    return RedirectResponse(f"/schedule/appointments/{appt.id}?sent=1", status_code=303)


async def confirm_location(request: Request) -> Response:
    # JSON, from the parent's lobby page: state "IL" in, allowed or refused (with the fix) out.
    runtime = video_runtime(app_state(request))
    form = await request.form()
    code = str(form.get("state", ""))[:2]
    actor = Actor("link", None, "parent (join link)", client_ip(request))
    try:
        async with unit_of_work(request) as session:
            result = await confirm_family_location(
                session,
                runtime.signer,
                request.path_params["session_id"],
                request.path_params["token"],
                code,
                actor,
            )
    except LinkInvalid:
        return JSONResponse({"allowed": False, "message": "This link is not valid."}, 403)
    except LinkGone:
        return JSONResponse({"allowed": False, "message": "This link is no longer valid."}, 410)
    if result is None:
        return JSONResponse({"allowed": True, "message": ""})
    if not result.allowed:
        message = (
            f"Your therapist is not licensed to see you by video while you are in "
            f"{result.state_name} ({result.state_code}). Please tell your therapist: they can "
            "reschedule, meet in person, or add a license for that state."
        )
        return JSONResponse({"allowed": False, "message": message, "state": result.state_code}, 409)
    return JSONResponse({"allowed": True, "message": "", "state": result.state_code})


routes = [
    Route("/schedule/appointments/{appointment_id}/video", start_video, methods=["POST"]),
    Route("/schedule/appointments/{appointment_id}/video/invite", send_join_link, methods=["POST"]),
    Route("/join/{session_id}/{token}/location", confirm_location, methods=["POST"]),
]
