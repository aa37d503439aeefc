"""Per-request access to the app's state, the signed-in user, and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.db import transaction
from server.models import User
from server.services.accounts import resolve_login_session
from server.services.audit import Actor
from server.state import AppState

from .security import SESSION_COOKIE

Endpoint = Callable[[Request], Awaitable[Response]]


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.tandem
    return state


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def operation_of(request: Request) -> str:
    """What was asked, for the audit log: the method and route template (no ids, no query)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"[:120]


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


@asynccontextmanager
async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(app_state(request).db) as session:
        yield session


async def current_user(request: Request) -> User | None:
    """Resolves (and caches on the request) the user behind the session cookie."""
    if "tandem_user" in request.scope:
        cached: User | None = request.scope["tandem_user"]
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user: User | None = None
    if token:
        state = app_state(request)
        async with transaction(state.db) as session:
            user = await resolve_login_session(session, token, state.session_policy)
            if user is not None:
                session.expunge(user)
    request.scope["tandem_user"] = user
    return user


def actor_for(request: Request, user: User | None) -> Actor:
    if user is None:
        return Actor.anonymous(client_ip(request))
    return Actor("user", str(user.id), user.email, client_ip(request))


def login_required(endpoint: Endpoint) -> Endpoint:
    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            if wants_json(request):
                raise HTTPException(401, "Sign in first.")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return await endpoint(request)

    return wrapper


def admin_required(endpoint: Endpoint) -> Endpoint:
    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = await current_user(request)
        if user is not None and not user.is_admin:
            raise HTTPException(403, "This page is for administrators.")
        return await endpoint(request)

    return login_required(wrapper)


def require_user(request: Request) -> User:
    """For endpoints already behind login_required."""
    user: Any = request.scope.get("tandem_user")
    if not isinstance(user, User):
        raise HTTPException(401, "Sign in first.")
    return user
