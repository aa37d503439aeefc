"""The parent's phone as a second camera: the QR code and short link (asked for by the parent's
call page with its rejoin credential), and the phone's page the link opens."""

from __future__ import annotations

import base64
import io
import json

import segno
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.db import utcnow
from server.models import VideoSession, VideoSessionState
from server.services.audit import Actor
from server.services.errors import NotFound, Refused
from server.services.video.second_camera import (
    CameraLinkGone,
    issue_camera_link,
    open_camera_link,
)
from server.video.runtime import video_runtime
from signaling.tokens import LinkGone, LinkInvalid

from .context import app_state, client_ip, unit_of_work
from .errors import error_response
from .pages_video import base_url, call_config
from .templating import render


def qr_svg(url: str) -> str:
    """The QR code as an SVG data URL (server-side: no script or remote service involved)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=5, border=2, dark="#000", light="#fff")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


async def camera_link_create(request: Request) -> Response:
    """JSON {rejoin, client_id} from the parent's page: a fresh single-use link for this parent."""
    runtime = video_runtime(app_state(request))
    session_id = request.path_params["session_id"]
    try:
        body = json.loads((await request.body())[:4096] or b"{}")
        claim = runtime.signer.verify_rejoin(
            str(body.get("rejoin", ""))[:2048],
            session_id=session_id,
            client_id=str(body.get("client_id", ""))[:64],
            now=utcnow(),
        )
    except (ValueError, AttributeError, LinkInvalid, LinkGone):
        return JSONResponse(
            {"error": "Only someone admitted to the session can add a camera."}, 403
        )
    if claim.role != "parent":
        return JSONResponse({"error": "Only a parent adds a second camera."}, 403)
    actor = Actor("link", claim.link_id, "parent (join link)", client_ip(request))
    try:
        async with unit_of_work(request) as session:
            issued = await issue_camera_link(
                session, session_id, claim.participant_id, claim.link_id, actor, utcnow()
            )
    except Refused as exc:
        return JSONResponse({"error": exc.message}, 429)
    url = f"{base_url(request)}/c/{issued.code}"
    return JSONResponse(
        {"url": url, "qr": qr_svg(url), "expires_at": issued.expires_at.isoformat()},
        headers={"Cache-Control": "no-store"},
    )


async def camera_page(request: Request) -> Response:
    code = request.path_params["code"]
    try:
        async with unit_of_work(request) as session:
            link = await open_camera_link(session, code, utcnow())
            video = await session.get(VideoSession, link.session_id)
    except CameraLinkGone as exc:
        return error_response(request, 410, exc.message)
    except NotFound as exc:
        return error_response(request, 404, exc.message)
    if video is None or video.state == VideoSessionState.ended:
        return error_response(request, 410, "This session is over.")
    config = call_config(request, video, "camera", token=code)
    return render(request, "sessions/camera.html", {"video": video, "config": config})


routes = [
    Route("/join/{session_id}/second-camera", camera_link_create, methods=["POST"]),
    Route("/c/{code}", camera_page, methods=["GET"]),
]
