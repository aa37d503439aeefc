"""Billing setup: the practice's identifiers, payers and fees; a client's coverage and
authorizations."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.services.billing.common import ValidationFailed, dollars
from server.services.billing.coverage import (
    RELATIONSHIPS,
    AuthorizationInput,
    CoverageInput,
    add_authorization,
    list_authorizations,
    list_coverages,
    set_coverage,
)
from server.services.billing.payers import (
    FILING_CODES,
    RATE_RULES,
    PayerInput,
    add_payer,
    list_fees,
    list_payers,
    set_fee,
)
from server.services.billing.practice import (
    PracticeInput,
    get_practice,
    practice_input,
    update_practice,
)
from server.services.billing.rules import POS_RULE_LABELS, TELEHEALTH_MODIFIERS
from server.services.clients import get_client_for
from server.services.documentation.procedures import CATALOG

from .context import actor_for, login_required, require_user, unit_of_work
from .templating import render


async def _setup(
    request: Request, errors: dict[str, str] | None = None, practice: PracticeInput | None = None
) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        profile = await get_practice(session, user)
        payers = await list_payers(session, user)
        fees = await list_fees(session, user)
    return render(
        request,
        "billing/setup.html",
        {
            "practice": practice or practice_input(profile), "payers": payers, "fees": fees,
            "payer_names": {p.id: p.name for p in payers}, "catalog": CATALOG,
            "pos_rules": POS_RULE_LABELS, "modifiers": TELEHEALTH_MODIFIERS,
            "rate_rules": RATE_RULES, "filing_codes": FILING_CODES, "dollars": dollars,
            "errors": errors or {},
        },
        status_code=422 if errors else 200,
    )  # fmt: skip


@login_required
async def setup_page(request: Request) -> Response:
    return await _setup(request)


@login_required
async def practice_save(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    data = PracticeInput(**{f.name: str(form.get(f.name, ""))[:120] for f in fields(PracticeInput)})
    try:
        async with unit_of_work(request) as session:
            await update_practice(session, user, data, actor_for(request, user))
    except ValidationFailed as exc:
        return await _setup(request, exc.errors, data)
    return RedirectResponse("/billing/setup#practice", status_code=303)


@login_required
async def payer_add(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()

    def text(name: str) -> str:
        return str(form.get(name, ""))[:60]

    data = PayerInput(
        name=text("name"), payer_code=text("payer_code"),
        telehealth_modifier=text("telehealth_modifier"), pos_rule=text("pos_rule"),
        rate_rule=text("rate_rule"), claim_filing_code=text("claim_filing_code"),
        applies_kx=form.get("applies_kx") == "yes",
        requires_authorization=form.get("requires_authorization") == "yes",
    )  # fmt: skip
    try:
        async with unit_of_work(request) as session:
            await add_payer(session, user, data, actor_for(request, user))
    except ValidationFailed as exc:
        return await _setup(request, exc.errors)
    return RedirectResponse("/billing/setup#payers", status_code=303)


@login_required
async def fee_set(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        async with unit_of_work(request) as session:
            await set_fee(
                session, user, code=str(form.get("code", ""))[:5],
                mode=str(form.get("mode", ""))[:20] or None,
                amount=str(form.get("amount", ""))[:12], actor=actor_for(request, user),
                payer_id=str(form.get("payer_id", ""))[:36] or None,
            )  # fmt: skip
    except ValidationFailed as exc:
        return await _setup(request, exc.errors)
    return RedirectResponse("/billing/setup#fees", status_code=303)


async def _client_billing(
    request: Request, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    user = require_user(request)
    async with unit_of_work(request) as session:
        client = await get_client_for(
            session, user, request.path_params["client_id"], actor_for(request, user)
        )
        coverages = await list_coverages(session, client.id)
        authorizations = await list_authorizations(session, client.id)
        payers = await list_payers(session, user)
    context: dict[str, Any] = {
        "client": client, "coverages": coverages, "authorizations": authorizations,
        "payers": payers, "payer_names": {p.id: p.name for p in payers},
        "relationships": RELATIONSHIPS, "errors": errors or {},
    }  # fmt: skip
    return render(request, "billing/client.html", context, status_code=status)


@login_required
async def client_billing(request: Request) -> Response:
    return await _client_billing(request)


@login_required
async def coverage_save(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    data = CoverageInput(**{f.name: str(form.get(f.name, ""))[:60] for f in fields(CoverageInput)})
    try:
        async with unit_of_work(request) as session:
            actor = actor_for(request, user)
            client = await get_client_for(session, user, request.path_params["client_id"], actor)
            await set_coverage(session, user, client, data, actor)
    except ValidationFailed as exc:
        return await _client_billing(request, exc.errors, 422)
    return RedirectResponse(f"/clients/{client.id}/billing", status_code=303)


@login_required
async def authorization_save(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    data = AuthorizationInput(
        **{f.name: str(form.get(f.name, ""))[:40] for f in fields(AuthorizationInput)}
    )
    try:
        async with unit_of_work(request) as session:
            actor = actor_for(request, user)
            client = await get_client_for(session, user, request.path_params["client_id"], actor)
            await add_authorization(session, user, client, data, actor)
    except ValidationFailed as exc:
        return await _client_billing(request, exc.errors, 422)
    return RedirectResponse(f"/clients/{client.id}/billing", status_code=303)


routes = [
    Route("/billing/setup", setup_page, methods=["GET"]),
    Route("/billing/setup/practice", practice_save, methods=["POST"]),
    Route("/billing/setup/payers", payer_add, methods=["POST"]),
    Route("/billing/setup/fees", fee_set, methods=["POST"]),
    Route("/clients/{client_id}/billing", client_billing, methods=["GET"]),
    Route("/clients/{client_id}/billing/coverage", coverage_save, methods=["POST"]),
    Route("/clients/{client_id}/billing/authorizations", authorization_save, methods=["POST"]),
]
