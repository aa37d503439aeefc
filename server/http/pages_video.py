"""Video session pages: start, console (links, revoke, end), the therapist's call, the join page."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db import utcnow
from server.models import Client, User, VideoSession, VideoSessionState
from server.services.audit import Actor, record_audit
from server.services.clients import get_client_for, list_clients
from server.services.geography import US_STATES
from server.services.scheduling.licensure import LicensureResult
from server.services.video.location import check_client_licensure
from server.services.video.observation import observation_summary
from server.services.video.quality import quality_for_session
from server.services.video.sessions import (
    attendance,
    find_link,
    get_session_for,
    issue_link,
    join_path,
    link_token,
    list_links,
    list_sessions,
    revoke_link,
    start_session,
    verify_join_link,
)
from server.services.video.visits import get_booked_state
from server.video.runtime import video_runtime
from signaling.ice import ice_servers
from signaling.tokens import LinkGone, LinkInvalid

from .context import (
    actor_for,
    app_state,
    client_ip,
    login_required,
    require_user,
    unit_of_work,
)
from .errors import error_response
from .templating import render


def base_url(request: Request) -> str:
    configured = app_state(request).settings.public_base_url
    return configured or str(request.base_url).rstrip("/")


def join_url(request: Request, session_id: object, token: str) -> str:
    return base_url(request) + join_path(session_id, token)


async def _load(request: Request) -> VideoSession:
    user = require_user(request)
    async with unit_of_work(request) as session:
        return await get_session_for(
            session, user, request.path_params["session_id"], actor_for(request, user)
        )


@login_required
async def session_list(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        sessions = await list_sessions(session, user)
        clients = await list_clients(session, user)
    return render(request, "sessions/list.html", {"sessions": sessions, "clients": clients})


@login_required
async def session_start(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        minutes = int(str(form.get("minutes", "60")))
    except ValueError:
        minutes = 60
    minutes = max(15, min(minutes, 240))
    client_id = str(form.get("client_id", "")).strip()
    title = str(form.get("title", ""))[:200]
    actor = actor_for(request, user)
    refusal: LicensureResult | None = None
    video: VideoSession | None = None
    async with unit_of_work(request) as session:
        client: Client | None = None
        if client_id:
            client = await get_client_for(session, user, client_id, actor)
            # The same gate as a telehealth visit's start: video only where licensed.
            licensure = await check_client_licensure(session, user, client, actor)
            if not licensure.allowed:
                refusal = licensure
        if refusal is None:
            video = await _start_with_links(request, session, user, client, actor, title, minutes)
    if video is None:
        assert refusal is not None
        # The refusal was audited in the unit of work above, which created nothing else.
        return error_response(request, 409, refusal.message)
    return RedirectResponse(f"/sessions/{video.id}", status_code=303)


async def _start_with_links(
    request: Request,
    session: AsyncSession,
    user: User,
    client: Client | None,
    actor: Actor,
    title: str,
    minutes: int,
) -> VideoSession:
    state = app_state(request)
    runtime = video_runtime(state)
    start = utcnow()
    video = await start_session(
        session,
        user,
        actor,
        title=title,
        client=client,
        planned_start=start,
        planned_end=start + timedelta(minutes=minutes),
    )
    grace = timedelta(minutes=state.settings.join_link_grace_minutes)
    parent_name = (
        client.caregivers[0].name if client is not None and client.caregivers else "Parent"
    )
    await issue_link(
        session, runtime.signer, video, actor, role="parent",
        display_name=parent_name, grace=grace,
    )  # fmt: skip
    await issue_link(
        session, runtime.signer, video, actor, role="observer",
        display_name="Observer", grace=grace,
    )  # fmt: skip
    return video


@login_required
async def session_console(request: Request) -> Response:
    user = require_user(request)
    runtime = video_runtime(app_state(request))
    async with unit_of_work(request) as session:
        video = await get_session_for(
            session, user, request.path_params["session_id"], actor_for(request, user)
        )
        links = await list_links(session, video)
        present = await attendance(session, video)
        quality = await quality_for_session(session, str(video.id))
        # The summary reads clinical annotations (audited): only worth it once there is a session.
        summary = (
            await observation_summary(session, video, actor_for(request, user))
            if video.state != VideoSessionState.open
            else None
        )
    now = utcnow()
    link_rows = [
        {
            "link": link,
            "url": join_url(request, video.id, link_token(runtime.signer, link)),
            "active": link.revoked_at is None and link.expires_at > now,
        }
        for link in links
    ]
    return render(
        request,
        "sessions/detail.html",
        {
            "video": video,
            "links": link_rows,
            "attendance": present,
            "quality": quality,
            "now": now,
            "summary": summary,
        },
    )


@login_required
async def link_create(request: Request) -> Response:
    user = require_user(request)
    state = app_state(request)
    form = await request.form()
    role = str(form.get("role", "parent"))
    if role not in ("parent", "observer"):
        raise HTTPException(422, "A link is for a parent or an observer.")
    async with unit_of_work(request) as session:
        video = await get_session_for(
            session, user, request.path_params["session_id"], actor_for(request, user)
        )
        await issue_link(
            session,
            video_runtime(state).signer,
            video,
            actor_for(request, user),
            role="parent" if role == "parent" else "observer",
            display_name=str(form.get("display_name", ""))[:80],
            grace=timedelta(minutes=state.settings.join_link_grace_minutes),
        )
    return RedirectResponse(f"/sessions/{video.id}", status_code=303)


@login_required
async def link_revoke(request: Request) -> Response:
    user = require_user(request)
    runtime = video_runtime(app_state(request))
    async with unit_of_work(request) as session:
        video = await get_session_for(
            session, user, request.path_params["session_id"], actor_for(request, user)
        )
        link = await revoke_link(
            session, video, request.path_params["link_id"], actor_for(request, user)
        )
    # After the commit: a connected holder of the link is dropped at once.
    await runtime.router.revoke_link(str(video.id), link.id)
    return RedirectResponse(f"/sessions/{video.id}", status_code=303)


@login_required
async def session_end(request: Request) -> Response:
    user = require_user(request)
    video = await _load(request)
    await video_runtime(app_state(request)).router.end_session(str(video.id))
    await record_audit(
        app_state(request).audit,
        actor_for(request, user),
        "video_session.end",
        object_type="video_session",
        object_id=video.id,
    )
    return RedirectResponse(f"/sessions/{video.id}", status_code=303)


def call_config(request: Request, video: VideoSession, role: str, **extra: object) -> str:
    runtime = video_runtime(app_state(request))
    servers = ice_servers(runtime.ice, role, utcnow())
    return json.dumps(
        {
            "sessionId": str(video.id),
            "role": role,
            "title": video.title,
            "iceServers": [s.model_dump(exclude_none=True) for s in servers],
            **extra,
        }
    )


@login_required
async def therapist_call(request: Request) -> Response:
    user = require_user(request)
    video = await _load(request)
    if video.state == VideoSessionState.ended:
        return RedirectResponse(f"/sessions/{video.id}", status_code=303)
    # The lobby names the state each parent confirmed being in (the licensure gate).
    config = call_config(request, video, "therapist", displayName=user.name, states=US_STATES)
    return render(request, "sessions/call.html", {"video": video, "config": config})


async def join_page(request: Request) -> Response:
    state = app_state(request)
    runtime = video_runtime(state)
    session_id = request.path_params["session_id"]
    token = request.path_params["token"]
    booked_state: str | None = None
    try:
        async with unit_of_work(request) as session:
            video, claim = await verify_join_link(
                session, runtime.signer, session_id, token, now=utcnow()
            )
            link = await find_link(session, claim.link_id)
            if claim.role == "parent":
                booked_state = await get_booked_state(session, video)
    except (LinkInvalid, LinkGone) as exc:
        gone = isinstance(exc, LinkGone)
        await record_audit(
            state.audit,
            Actor.anonymous(client_ip(request)),
            "join_link.open",
            object_type="video_session",
            object_id=session_id[:64],
            outcome="refused",
            detail={"reason": str(exc)},
        )
        if gone:
            return error_response(
                request,
                410,
                "This session link has expired, was withdrawn, or the session is over. "
                "Ask your therapist for a new link.",
            )
        return error_response(
            request, 403, "This link is not valid. Check that you copied all of it."
        )
    # The name is the therapist's label for the link, read from the records (never the token).
    name = link.display_name if link is not None else "Guest"
    await record_audit(
        state.audit,
        Actor("link", claim.link_id, name, client_ip(request)),
        "join_link.open",
        object_type="video_session",
        object_id=video.id,
        detail={"role": claim.role},
    )
    config = call_config(request, video, claim.role, token=token, displayName=name)
    return render(
        request,
        "sessions/join.html",
        {
            "video": video,
            "claim": claim,
            "display_name": name,
            "config": config,
            "booked_state": booked_state,
        },
    )


routes = [
    Route("/sessions", session_list, methods=["GET"]),
    Route("/sessions", session_start, methods=["POST"]),
    Route("/sessions/{session_id}", session_console, methods=["GET"]),
    Route("/sessions/{session_id}/call", therapist_call, methods=["GET"]),
    Route("/sessions/{session_id}/links", link_create, methods=["POST"]),
    Route("/sessions/{session_id}/links/{link_id}/revoke", link_revoke, methods=["POST"]),
    Route("/sessions/{session_id}/end", session_end, methods=["POST"]),
    Route("/join/{session_id}/{token}", join_page, methods=["GET"]),
]
