"""Playback of recordings with annotation markers; media served only to the owner, with Range."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.models import Annotation, User, VideoSession
from server.services.video.annotations import get_snapshot, list_annotations
from server.services.video.recordings import (
    MISSING_FROM_STORAGE,
    PLAYABLE,
    list_recordings,
    playable_key,
    read_recording_file,
)
from server.services.video.sessions import (
    attendance,
    get_session_for,
)

from .context import actor_for, login_required, require_user, unit_of_work
from .params import query_float
from .store_media import stored_media
from .templating import render


def annotation_json(a: Annotation, session_id: object) -> dict[str, Any]:
    payload = a.payload or {}
    return {
        "id": str(a.id),
        "kind": a.kind,
        "text": a.text,
        "tag": a.tag,
        "goal_id": a.goal_id,
        "session_ms": a.session_ms,
        "recording_ms": a.recording_ms,
        "recording_id": a.recording_id,
        "target": a.target_participant_id,
        "fade_ms": payload.get("fade_ms"),
        "author_role": a.author_role,
        "shapes": payload.get("shapes"),
        "color": payload.get("color"),
        "snapshot_url": f"/sessions/{session_id}/annotations/{a.id}/snapshot"
        if a.kind == "snapshot"
        else None,
    }


async def _video(request: Request, session: Any, user: User) -> VideoSession:
    return await get_session_for(
        session, user, request.path_params["session_id"], actor_for(request, user)
    )


def clip_form_defaults(
    video: VideoSession, playable: list[dict[str, Any]], annotations: list[Annotation]
) -> dict[str, str] | None:
    """The clip form, prefilled a few seconds before the first annotation of the recording."""
    if video.client_id is None or not playable:
        return None
    marked = next((a for a in annotations if a.recording_ms is not None), None)
    offset = int(playable[0]["offset_ms"] or 0)
    if marked is None or marked.recording_ms is None:
        return {"start": "0", "end": "15", "hint": ""}
    at = max(0.0, (marked.recording_ms - offset) / 1000 - 3)
    label = marked.tag or marked.text or marked.kind
    return {"start": f"{at:.1f}", "end": f"{at + 15:.1f}", "hint": f"“{label}”"}


@login_required
async def playback(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    async with unit_of_work(request) as session:
        video = await _video(request, session, user)
        recordings = await list_recordings(session, video, actor)
        annotations = await list_annotations(session, video, actor)
    files = [
        {
            "id": str(f.id),
            "participant_id": f.participant_id,
            "status": f.status,
            "duration_ms": f.duration_ms,
            "offset_ms": f.offset_ms,
            "sha256": f.sha256,
            "url": f"/recordings/{f.id}/media",
            "recording_id": f.recording_id,
        }
        for view in recordings
        for f in view.files
    ]
    names = {}
    async with unit_of_work(request) as session:
        for row in await attendance(session, video):
            names[row.participant_id] = f"{row.display_name} ({row.role})"
    for f in files:
        f["label"] = names.get(str(f["participant_id"]), str(f["participant_id"]))
    playable = [f for f in files if f["status"] in PLAYABLE]
    chosen = request.query_params.get("file") or (playable[0]["id"] if playable else None)
    config = {
        "sessionId": str(video.id),
        "files": files,
        "file": chosen,
        "start": query_float(request.query_params, "t", 0.0, 0.0, 24 * 3600.0),
        "annotations": [annotation_json(a, video.id) for a in annotations],
    }
    return render(
        request,
        "sessions/playback.html",
        {
            "clip_form": clip_form_defaults(video, playable, annotations),
            "video": video,
            "files": files,
            "recordings": recordings,
            "annotations": annotations,
            "config": json.dumps(config),
            "names": names,
        },
    )


async def _file_for(request: Request, user: User) -> str:
    async with unit_of_work(request) as session:
        row = await read_recording_file(
            session,
            user,
            request.path_params["file_id"],
            actor_for(request, user),
            range_header=request.headers.get("range", ""),
        )
    # After the commit: the read (or its refusal) stays audited whatever the answer.
    return playable_key(row)


@login_required
async def recording_media(request: Request) -> Response:
    user = require_user(request)
    key = await _file_for(request, user)
    return await stored_media(request, key, MISSING_FROM_STORAGE)


@login_required
async def snapshot_image(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        video = await _video(request, session, user)
        snap = await get_snapshot(
            session, video, request.path_params["annotation_id"], actor_for(request, user)
        )
    return Response(
        snap.image, media_type=snap.content_type, headers={"cache-control": "private, no-store"}
    )


routes = [
    Route("/sessions/{session_id}/playback", playback, methods=["GET"]),
    Route("/recordings/{file_id}/media", recording_media, methods=["GET"]),
    Route(
        "/sessions/{session_id}/annotations/{annotation_id}/snapshot",
        snapshot_image,
        methods=["GET"],
    ),
]
