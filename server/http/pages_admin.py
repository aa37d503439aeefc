"""The audit log page for administrators, and its filters (shared with the API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services.audit import AuditFilter, list_audit

from .context import admin_required, unit_of_work
from .templating import render

PAGE_SIZE = 100


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def audit_filter_from(request: Request) -> AuditFilter:
    q = request.query_params
    return AuditFilter(
        action=(q.get("action") or "")[:80] or None,
        actor=(q.get("actor") or "")[:200] or None,
        object_type=(q.get("object_type") or "")[:40] or None,
        object_id=(q.get("object_id") or "")[:64] or None,
        outcome=(q.get("outcome") or "")[:20] or None,
        since=_day(q.get("since")),
        until=_day(q.get("until"), end=True),
    )


@admin_required
async def audit_page(request: Request) -> Response:
    f = audit_filter_from(request)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with unit_of_work(request) as session:
        rows, total = await list_audit(session, f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "admin/audit.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "q": {k: v for k, v in request.query_params.items() if k != "page"},
        },
    )


routes = [Route("/admin/audit", audit_page, methods=["GET"])]
