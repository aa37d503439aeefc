"""Billing pages: the month's charges, reviewing and confirming one, correcting a confirmed one,
and the documents out (837P, the accountants' CSV, superbills)."""

from __future__ import annotations

from datetime import date

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.models import User
from server.services.billing.charges import (
    LineEdit,
    confirm_charge,
    get_charge_for,
    list_charges,
    reversed_ids,
    update_lines,
)
from server.services.billing.checks import charge_problems, problems_by_charge
from server.services.billing.claims import export_837p, outgoing
from server.services.billing.common import ValidationFailed, dollars
from server.services.billing.corrections import correct_charge
from server.services.billing.ledger import ledger_csv
from server.services.billing.payers import list_payers
from server.services.billing.practice import get_practice
from server.services.billing.rules import POS_LABELS
from server.services.billing.superbill import make_superbill
from server.services.billing.totals import month_bounds
from server.services.clients import get_client_for, list_client_names
from server.services.documentation.procedures import CATALOG

from .context import actor_for, login_required, require_user, unit_of_work
from .pages_schedule_shared import today_for
from .params import query_date
from .templating import render


def _range(params: QueryParams, user: User) -> tuple[date, date]:
    """?from=&to= (both or neither), else ?month=YYYY-MM, else this month."""
    start, end = query_date(params, "from"), query_date(params, "to")
    if start and end:
        if end < start or (end - start).days > 366:
            raise HTTPException(400, "Choose a range of at most a year, 'from' before 'to'.")
        return start, end
    month = params.get("month", "")
    try:
        first = date.fromisoformat(f"{month[:7]}-01") if month else today_for(user)
    except ValueError:
        raise HTTPException(400, "'month' must look like 2026-11.") from None
    return month_bounds(first)


@login_required
async def billing_page(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    start, end = _range(request.query_params, user)
    async with unit_of_work(request) as session:
        charges = await list_charges(session, user, start, end, actor)
        practice = await get_practice(session, user)
        problems = await problems_by_charge(
            session, [c for c in charges if c.kind == "charge"], practice
        )
        gone = await reversed_ids(session, [c.id for c in charges])
        names = await list_client_names(session, {c.client_id for c in charges})
        payers = {p.id: p.name for p in await list_payers(session, user)}
        private = await outgoing(session, user, start, end, insurance=False)
    standing = [c for c in charges if c.kind == "charge" and c.is_confirmed and c.id not in gone]
    superbill_clients = sorted(
        {c.client_id for c in private.ready}, key=lambda cid: names.get(cid, "")
    )
    prev_month = month_bounds(date.fromordinal(start.toordinal() - 1))[0]
    next_month = month_bounds(date.fromordinal(month_bounds(start)[1].toordinal() + 1))[0]
    return render(
        request,
        "billing/index.html",
        {
            "start": start, "end": end, "charges": charges, "problems": problems,
            "reversed": gone, "names": names, "payers": payers, "dollars": dollars,
            "proposed": [c for c in charges if not c.is_confirmed],
            "standing_total": sum(c.total_cents for c in standing),
            "standing_count": len(standing),
            "superbill_clients": superbill_clients, "prev_month": prev_month,
            "next_month": next_month,
        },
    )  # fmt: skip


async def _charge_context(
    request: Request, errors: dict[str, str] | None = None
) -> dict[str, object]:
    user = require_user(request)
    async with unit_of_work(request) as session:
        charge = await get_charge_for(
            session, user, request.path_params["charge_id"], actor_for(request, user)
        )
        practice = await get_practice(session, user)
        problems = (
            await charge_problems(session, charge, practice) if charge.kind == "charge" else []
        )
        gone = await reversed_ids(session, [charge.id])
        names = await list_client_names(session, [charge.client_id])
        payers = {p.id: p.name for p in await list_payers(session, user)}
        same_day = await list_charges(session, user, charge.service_date, charge.service_date, None)
    # The charge it reverses or replaces, and the ones that reverse or replace it.
    links = {charge.reverses_id, charge.replaces_id}
    related = [
        c
        for c in same_day
        if c.id != charge.id and (c.id in links or charge.id in (c.reverses_id, c.replaces_id))
    ]
    return {
        "charge": charge, "problems": problems, "is_reversed": charge.id in gone,
        "client_name": names.get(charge.client_id, ""),
        "payer_name": payers.get(charge.payer_id, "") if charge.payer_id else "Private pay",
        "related": related, "dollars": dollars, "catalog": CATALOG, "pos_labels": POS_LABELS,
        "errors": errors or {}, "editable": not charge.is_confirmed,
    }  # fmt: skip


@login_required
async def charge_page(request: Request) -> Response:
    return render(request, "billing/charge.html", await _charge_context(request))


@login_required
async def charge_update(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    edits = [
        LineEdit(
            str(key).removeprefix("units-")[:36],
            str(value)[:4],
            str(form.get(f"modifiers-{str(key).removeprefix('units-')}", ""))[:20],
        )
        for key, value in form.items()
        if str(key).startswith("units-")
    ]
    try:
        async with unit_of_work(request) as session:
            actor = actor_for(request, user)
            charge = await get_charge_for(session, user, request.path_params["charge_id"], actor)
            await update_lines(session, user, charge, edits, actor)
    except ValidationFailed as exc:
        return render(
            request, "billing/charge.html", await _charge_context(request, exc.errors), 422
        )
    return RedirectResponse(f"/billing/charges/{charge.id}", status_code=303)


@login_required
async def charge_confirm(request: Request) -> Response:
    user = require_user(request)
    try:
        async with unit_of_work(request) as session:
            actor = actor_for(request, user)
            charge = await get_charge_for(session, user, request.path_params["charge_id"], actor)
            await confirm_charge(session, user, charge, actor)
    except ValidationFailed as exc:
        return render(
            request, "billing/charge.html", await _charge_context(request, exc.errors), 422
        )
    return RedirectResponse(f"/billing/charges/{charge.id}", status_code=303)


@login_required
async def charge_correct(request: Request) -> Response:
    user = require_user(request)
    form = await request.form()
    try:
        async with unit_of_work(request) as session:
            actor = actor_for(request, user)
            charge = await get_charge_for(session, user, request.path_params["charge_id"], actor)
            _, replacement = await correct_charge(
                session, user, charge, str(form.get("reason", ""))[:300], actor
            )
    except ValidationFailed as exc:
        return render(
            request, "billing/charge.html", await _charge_context(request, exc.errors), 422
        )
    return RedirectResponse(f"/billing/charges/{replacement.id}", status_code=303)


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@login_required
async def claims_837p(request: Request) -> Response:
    """The 837P of the range's ready insurance charges; held ones are listed on /billing."""
    user = require_user(request)
    start, end = _range(request.query_params, user)
    async with unit_of_work(request) as session:
        export = await export_837p(session, user, start, end, actor_for(request, user))
    if not export.text:
        raise HTTPException(404, "No confirmed insurance charge is ready in that range.")
    return _download(export.text, "application/edi-x12", f"claims-{start}-{end}.837p.x12")


@login_required
async def ledger(request: Request) -> Response:
    user = require_user(request)
    start, end = _range(request.query_params, user)
    async with unit_of_work(request) as session:
        text = await ledger_csv(session, user, start, end, actor_for(request, user))
    return _download(text, "text/csv; charset=utf-8", f"charges-{start}-{end}.csv")


@login_required
async def superbill(request: Request) -> Response:
    user = require_user(request)
    actor = actor_for(request, user)
    start, end = _range(request.query_params, user)
    async with unit_of_work(request) as session:
        client = await get_client_for(session, user, request.path_params["client_id"], actor)
        bill = await make_superbill(session, user, client, start, end, actor)
    if not bill.charges:
        raise HTTPException(404, "No confirmed private-pay visit is ready in that range.")
    name = f"superbill-{client.last_name.lower()}-{start}-{end}.pdf"
    return _download(bill.pdf, "application/pdf", name)


routes = [
    Route("/billing", billing_page, methods=["GET"]),
    Route("/billing/charges/{charge_id}", charge_page, methods=["GET"]),
    Route("/billing/charges/{charge_id}", charge_update, methods=["POST"]),
    Route("/billing/charges/{charge_id}/confirm", charge_confirm, methods=["POST"]),
    Route("/billing/charges/{charge_id}/correct", charge_correct, methods=["POST"]),
    Route("/billing/claims.837p", claims_837p, methods=["GET"]),
    Route("/billing/ledger.csv", ledger, methods=["GET"]),
    Route("/billing/superbill/{client_id}", superbill, methods=["GET"]),
]
