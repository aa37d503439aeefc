"""Chart pages: the client's documentation panels, plans of care and goals, chart facts."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.models import Client, User
from server.services.audit import Actor
from server.services.clients import find_client, get_client_for, list_client_names
from server.services.documentation.chart import (
    CONSENT_KINDS,
    add_consent,
    add_diagnosis,
    add_referral,
    read_chart,
)
from server.services.documentation.common import ValidationFailed
from server.services.documentation.due import caseload_due
from server.services.documentation.notes import NOTE_TYPES, unsigned_notes
from server.services.documentation.plans import (
    ASSISTANCE_LEVELS,
    DISCIPLINES,
    MEASURES,
    GoalInput,
    PlanInput,
    create_plan,
    get_plan_for,
    plan_history,
    plan_input_from,
)
from server.services.documentation.progress import goal_charts, notes_with_measures

from .context import actor_for, login_required, require_user, unit_of_work
from .templating import render

GOAL_ROWS = 8


async def chart_panels(
    session: AsyncSession, user: User, client: Client, actor: Actor
) -> dict[str, Any]:
    """Context for the client page's documentation panels (clients/detail.html)."""
    return {"chart": await read_chart(session, client, actor), "consent_kinds": CONSENT_KINDS}


async def dashboard(session: AsyncSession, user: User) -> dict[str, Any]:
    """Context for the home page: unsigned notes to finish, and what falls due."""
    drafts = await unsigned_notes(session, user)
    names = await list_client_names(session, (n.client_id for n in drafts))
    return {
        "unsigned": [(n, names.get(n.client_id, "")) for n in drafts],
        "due": await caseload_due(session, user),
        "note_types": NOTE_TYPES,
    }


async def _client(request: Request, session: AsyncSession, user: User) -> Client:
    return await get_client_for(
        session, user, request.path_params["client_id"], actor_for(request, user)
    )


def plan_input_from_form(form: FormData) -> PlanInput:
    def text(name: str, limit: int = 200) -> str:
        return str(form.get(name, ""))[:limit]

    return PlanInput(
        discipline=text("discipline", 10),
        assessment=text("assessment", 10000),
        visits_per_week=text("visits_per_week", 5),
        visit_minutes=text("visit_minutes", 5),
        cert_start=text("cert_start", 20),
        cert_end=text("cert_end", 20),
        reason=text("reason", 300),
        procedure_codes=text("procedure_codes", 200),
        coaching_cues=text("coaching_cues", 800),
        goals=[
            GoalInput(
                term=text(f"goal-{i}-term", 5),
                label=text(f"goal-{i}-label", 60),
                description=text(f"goal-{i}-description", 2000),
                measure=text(f"goal-{i}-measure", 20),
                baseline=text(f"goal-{i}-baseline", 20),
                target=text(f"goal-{i}-target", 20),
                target_date=text(f"goal-{i}-target_date", 20),
                status=text(f"goal-{i}-status", 15) or "active",
                lineage_id=text(f"goal-{i}-lineage_id", 36),
            )
            for i in range(GOAL_ROWS)
        ],
    )


def _form(
    client: Client, data: PlanInput, errors: dict[str, str], revising: bool
) -> dict[str, Any]:
    goals = list(data.goals)
    while len(goals) < GOAL_ROWS and (len(goals) < 3 or not goals[-1].is_blank):
        goals.append(GoalInput())
    return {
        "client": client,
        "data": data,
        "goals": goals,
        "errors": errors,
        "revising": revising,
        "disciplines": DISCIPLINES,
        "measures": MEASURES,
        "levels": ASSISTANCE_LEVELS,
    }


@login_required
async def plan_new(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await _client(request, session, user)
        history = await plan_history(session, client.id)
    data = (
        plan_input_from(history[0]) if history else PlanInput(cert_start=date.today().isoformat())
    )
    if history:
        data.reason = ""
    return render(request, "documentation/plan_form.html", _form(client, data, {}, bool(history)))


@login_required
async def plan_create(request: Request) -> Response:
    user = require_user(request)
    data = plan_input_from_form(await request.form())
    try:
        async with unit_of_work(request) as session:
            client = await _client(request, session, user)
            plan = await create_plan(session, user, client, data, actor_for(request, user))
    except ValidationFailed as exc:
        async with unit_of_work(request) as session:
            client = await _client(request, session, user)
            revising = bool(await plan_history(session, client.id))
        return render(
            request,
            "documentation/plan_form.html",
            _form(client, data, exc.errors, revising),
            status_code=422,
        )
    return RedirectResponse(f"/plans/{plan.id}", status_code=303)


@login_required
async def plan_page(request: Request) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        plan = await get_plan_for(
            session, user, request.path_params["plan_id"], actor_for(request, user)
        )
        client = await find_client(session, plan.client_id)
        history = await plan_history(session, plan.client_id)
        charts = goal_charts(plan.goals, await notes_with_measures(session, plan.client_id))
    return render(
        request,
        "documentation/plan.html",
        {
            "plan": plan,
            "client": client,
            "history": history,
            "charts": charts,
            "disciplines": DISCIPLINES,
            "levels": ASSISTANCE_LEVELS,
        },
    )


def _date_or_none(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


@login_required
async def chart_fact_create(request: Request) -> Response:
    """Diagnosis, referral or consent, from the small forms on the client page."""
    user = require_user(request)
    form = await request.form()
    kind = request.path_params["fact"]

    def text(name: str) -> str:
        return str(form.get(name, ""))[:500]

    async with unit_of_work(request) as session:
        client = await _client(request, session, user)
        actor = actor_for(request, user)
        if kind == "diagnoses":
            await add_diagnosis(
                session, client, text("code"), text("description"), actor,
                primary=form.get("primary") == "yes",
            )  # fmt: skip
        elif kind == "referrals":
            await add_referral(
                session, client, text("source"), actor, provider=text("provider"),
                reason=text("reason"), referred_on=_date_or_none(text("referred_on")),
            )  # fmt: skip
        elif kind == "consents":
            given_on = _date_or_none(text("given_on"))
            if given_on is None:
                raise ValidationFailed({"given_on": "Enter the date as YYYY-MM-DD."})
            await add_consent(
                session, user, client, text("kind"), text("given_by"), given_on, actor,
                note=text("note"),
            )  # fmt: skip
        else:
            raise HTTPException(404, "Unknown chart section.")
    return RedirectResponse(f"/clients/{client.id}#chart", status_code=303)


routes = [
    Route("/clients/{client_id}/plans/new", plan_new, methods=["GET"]),
    Route("/clients/{client_id}/plans", plan_create, methods=["POST"]),
    Route("/clients/{client_id}/chart/{fact}", chart_fact_create, methods=["POST"]),
    Route("/plans/{plan_id}", plan_page, methods=["GET"]),
]
