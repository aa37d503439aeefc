"""Jinja2 over web/templates: what every page's context carries (CSRF token, user, path) and
the `local` filter that shows an instant in a given time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from server.services.documentation.times import form_value
from server.services.geography import COMMON_US_ZONES, US_STATES

from .context import app_state
from .security import csrf_token_for


def _context(request: Request) -> dict[str, Any]:
    state = app_state(request)
    return {
        "csrf_token": csrf_token_for(state.settings.secret_key, request),
        "current_user": request.scope.get("tandem_user"),
        "path": request.url.path,
    }


def _local(value: datetime | None, zone: str = "UTC", fmt: str = "%b %-d, %Y %-I:%M %p") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local
    env.filters["wall"] = form_value  # a datetime-local field's value in a zone
    env.globals["US_STATES"] = US_STATES
    env.globals["COMMON_US_ZONES"] = COMMON_US_ZONES
    return Jinja2Templates(env=env, context_processors=[_context])


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request, name, context or {}, status_code=status_code
    )
    return response
