"""The client's tags for the call: which one-tap tags count toward which goal of the plan."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.services.clients import get_client_for
from server.services.video.annotations import DEFAULT_TAGS
from server.services.video.goal_tags import TAG_GROUPS, save_tag_plan, tag_plan

from .context import actor_for, login_required, require_user, unit_of_work
from .templating import render

MAX_OTHER = 300  # characters of typed-in tags per goal


def _others(raw: object) -> list[str]:
    return [t.strip() for t in str(raw or "")[:MAX_OTHER].split(",") if t.strip()]


@login_required
async def tags_page(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await get_client_for(
            session, user, request.path_params["client_id"], actor_for(request, user)
        )
        plan = await tag_plan(session, client)
    known = {label for labels in TAG_GROUPS.values() for label in labels}
    return render(
        request,
        "clients/tags.html",
        {
            "client": client,
            "plan": plan,
            "groups": TAG_GROUPS,
            "known": known,
            "defaults": [t.label for t in DEFAULT_TAGS],
            "saved": request.query_params.get("saved") == "1",
        },
    )


@login_required
async def tags_save(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    async with unit_of_work(request) as session:
        actor = actor_for(request, user)
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        plan = await tag_plan(session, client)
        per_goal = {}
        for item in plan.goals:
            key = f"goal-{item.goal.lineage_id}"
            chosen = [str(v) for v in form.getlist(key)]
            per_goal[str(item.goal.lineage_id)] = chosen + _others(form.get(f"{key}-other"))
        plain = [str(v) for v in form.getlist("plain")] + _others(form.get("plain-other"))
        await save_tag_plan(session, client, per_goal, plain, actor)
    return RedirectResponse(f"/clients/{client.id}/tags?saved=1", status_code=303)


routes = [
    Route("/clients/{client_id}/tags", tags_page, methods=["GET"]),
    Route("/clients/{client_id}/tags", tags_save, methods=["POST"]),
]
