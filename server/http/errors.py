"""Friendly pages for browsers, JSON for API calls; never a stack trace.

The one place a service's refusal becomes an HTTP status: pages let DomainError through.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.services.errors import Conflict, DomainError, Invalid, NotFound, Refused

from .context import app_state, operation_of, wants_json
from .templating import render

log = logging.getLogger("tandem.errors")

TITLES = {
    400: "That request did not make sense",
    401: "Please sign in",
    403: "You do not have access to this",
    404: "Page not found",
    405: "That action is not allowed here",
    410: "This link is no longer valid",
    413: "That was too large",
    422: "Some details need fixing",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Busy: try again shortly",
}

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    410: "gone",
    413: "payload_too_large",
    422: "invalid",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": {"code": CODES.get(status, "error"), "message": message}},
            status_code=status,
            headers=headers,
        )
    response: Response = render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "message": message},
        status_code=status,
    )
    if headers:
        response.headers.update(headers)
    return response


# The kinds do not overlap; a DomainError of none of them is a plain bad request.
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Refused, 403),
    (Conflict, 409),
    (Invalid, 422),
)


def domain_status(exc: DomainError) -> int:
    return next((status for kind, status in DOMAIN_STATUS if isinstance(exc, kind)), 400)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    refusal = exc.refusal
    if refusal is not None:
        # Written here, once for every service: the request's unit of work has rolled back.
        await app_state(request).audit.record(
            refusal.actor,
            refusal.action,
            object_type=refusal.object_type,
            object_id=refusal.object_id,
            outcome="refused",
            # Which operation was refused (a read, an edit, a signature): the route, not its ids.
            detail={"reason": refusal.reason, "request": operation_of(request)},
        )
    return error_response(request, domain_status(exc), exc.message)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(request, exc.status_code, exc.detail, dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(request, 500, "The error has been logged. Please try again in a moment.")
