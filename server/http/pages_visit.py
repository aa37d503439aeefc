"""The link in a telehealth visit's reminder: to the join page once the visit is open."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db import utcnow
from server.services.audit import Actor, record_audit
from server.services.scheduling.visit_links import (
    VisitLinkInvalid,
    VisitLinkSigner,
    get_open_visit,
)
from server.services.video.visits import get_visit_video
from server.video.runtime import video_runtime

from .context import app_state, client_ip, unit_of_work
from .errors import error_response
from .pages_video import join_url
from .templating import render


async def visit_page(request: Request) -> Response:
    state = app_state(request)
    token = request.path_params["token"]
    try:
        claim = VisitLinkSigner(state.settings.secret_key).verify(token, utcnow())
    except VisitLinkInvalid as exc:
        await record_audit(
            state.audit,
            Actor.anonymous(client_ip(request)),
            "visit_link.open",
            outcome="refused",
            detail={"reason": str(exc)},
        )
        return error_response(
            request, 403, "This link is not valid or has expired. Ask your therapist for a new one."
        )
    actor = Actor("caregiver", claim.caregiver_id, "caregiver (visit link)", client_ip(request))
    async with unit_of_work(request) as session:
        appt = await get_open_visit(session, claim)
        if appt is None:
            await record_audit(
                state.audit, actor, "visit_link.open", object_type="appointment",
                object_id=claim.appointment_id, outcome="refused", detail={"reason": "not open"},
            )  # fmt: skip
            return error_response(request, 410, "This visit was cancelled or is over.")
        found = await get_visit_video(session, appt, video_runtime(state).signer)
    await record_audit(
        state.audit, actor, "visit_link.open", object_type="appointment", object_id=appt.id
    )
    if found is not None and found.parent_token and found.video.state != "ended":
        return RedirectResponse(
            join_url(request, found.video.id, found.parent_token), status_code=303
        )
    return render(
        request, "visit/waiting.html", {"starts_at": appt.starts_at, "zone": appt.client.time_zone}
    )


routes = [Route("/visit/{token}", visit_page, methods=["GET"])]
