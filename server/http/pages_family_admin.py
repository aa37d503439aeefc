"""The therapist's side of family access, on the client's page: email a caregiver a sign-in
link, withdraw one, add to the home program."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from media.recording.clip import Clip, ClipError, cut_clip
from server.mail.worker import wake_outbox
from server.services.clients import get_client_for
from server.services.errors import NotFound, ValidationFailed
from server.services.family.access import issue_sign_in_link, revoke_sign_in_link
from server.services.family.clips import (
    add_clip_item,
    clip_key,
    clip_source,
    new_clip_name,
    parse_span,
)
from server.services.family.home_program import add_item
from server.services.video.recordings import MISSING_FROM_STORAGE
from server.services.video.sessions import get_session_for
from server.video.store import RecordingStore, local_copy, scratch_file

from .context import actor_for, app_state, login_required, require_user, unit_of_work
from .pages_video import base_url
from .store_media import request_store


def _back(client_id: object) -> Response:
    return RedirectResponse(f"/clients/{client_id}#family", status_code=303)


@login_required
async def link_create(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await issue_sign_in_link(
            session, user, client, str(form.get("caregiver_id", ""))[:64], base_url(request), actor
        )
    wake_outbox(app_state(request))
    return _back(client.id)


@login_required
async def link_revoke(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await revoke_sign_in_link(session, client, request.path_params["link_id"], actor)
    return _back(client.id)


@login_required
async def item_create(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        await add_item(
            session, user, client, str(form.get("title", ""))[:200],
            str(form.get("instruction", ""))[:2000], actor,
        )  # fmt: skip
    return _back(client.id)


def _cut(
    store: RecordingStore, working_dir: Path, source: str, target: str, start_ms: int, end_ms: int
) -> Clip:
    """Blocking (a worker thread): cuts from the recording under the key ``source`` (fetched
    from the store unless this host has it) and publishes the clip under ``target``. The
    temporary files are in the working directory and removed whatever happens."""
    with (
        local_copy(store, source, working_dir) as recording,
        scratch_file(working_dir, ".clip-") as cut,
    ):
        with recording.open("rb") as src, cut.open("wb") as out:
            clip = cut_clip(src, out, start_ms, end_ms)
        store.publish(target, cut)
    return clip


@login_required
async def clip_create(request: Request) -> Response:
    """Cuts a clip from a session's recording (off the event loop) and makes it an item."""
    user = require_user(request)
    state = app_state(request)
    form = await request.form()
    actor = actor_for(request, user)
    store = request_store(request, MISSING_FROM_STORAGE)
    start_ms, end_ms = parse_span(str(form.get("start", ""))[:20], str(form.get("end", ""))[:20])
    async with unit_of_work(request) as session:
        video = await get_session_for(session, user, request.path_params["session_id"], actor)
        source, key = await clip_source(
            session, user, video, str(form.get("file_id", ""))[:64], actor
        )
    name = new_clip_name()
    work = (store, state.settings.storage_dir, key, clip_key(name), start_ms, end_ms)
    try:
        clip = await asyncio.to_thread(_cut, *work)
    except ClipError as exc:
        raise ValidationFailed({"start": f"No clip there: {exc}."}) from None
    except FileNotFoundError:
        raise NotFound(MISSING_FROM_STORAGE) from None
    async with unit_of_work(request) as session:
        video = await get_session_for(session, user, request.path_params["session_id"], actor)
        await add_clip_item(
            session, user, video, source, title=str(form.get("title", ""))[:200],
            instruction=str(form.get("instruction", ""))[:2000], name=name,
            start_ms=start_ms, end_ms=end_ms, lead_in_ms=clip.lead_in_ms, actor=actor,
        )  # fmt: skip
    return _back(video.client_id)


routes = [
    Route("/clients/{client_id}/family-links", link_create, methods=["POST"]),
    Route("/clients/{client_id}/family-links/{link_id}/revoke", link_revoke, methods=["POST"]),
    Route("/clients/{client_id}/home-program", item_create, methods=["POST"]),
    Route("/sessions/{session_id}/clips", clip_create, methods=["POST"]),
]
