"""Sign-in and sign-out: one generic failure message, audited, rate limited."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.services.accounts import authenticate as check_password
from server.services.accounts import end_login_session, normalize_email, start_login_session
from server.services.audit import Actor, add_audit, record_audit

from .context import app_state, client_ip, current_user, unit_of_work
from .errors import error_response
from .security import SESSION_COOKIE
from .templating import render

GENERIC_FAILURE = "That email and password do not match an account."


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login is a phishing tool.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


async def login_page(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return render(
        request, "login.html", {"next": request.query_params.get("next", ""), "email": ""}
    )


async def login_submit(request: Request) -> Response:
    state = app_state(request)
    form = await request.form()
    email = normalize_email(str(form.get("email", "")))[:320]
    password = str(form.get("password", ""))[:1024]
    next_url = _safe_next(str(form.get("next", "")))
    ip = client_ip(request) or "unknown"
    keys = (f"ip:{ip}", f"email:{email}")

    # Reserved before the password is checked: concurrent attempts cannot all slip under it.
    reservation = await state.login_limiter.reserve(*keys)
    if not reservation.allowed:
        state.metrics.logins.labels("rate_limited").inc()
        await record_audit(
            state.audit,
            Actor("anonymous", None, email, ip),
            "auth.login",
            outcome="refused",
            detail={"reason": "rate_limited"},
        )
        return error_response(
            request,
            429,
            f"Too many sign-in attempts. Try again in {reservation.retry_after} seconds.",
            headers={"Retry-After": str(reservation.retry_after)},
        )

    async with unit_of_work(request) as session:
        user = await check_password(session, state.passwords, email, password)
        if user is not None:
            token = await start_login_session(
                session,
                user,
                state.session_policy,
                remote_addr=ip,
                user_agent=request.headers.get("user-agent"),
                replaces=request.cookies.get(SESSION_COOKIE),
            )
            add_audit(session, Actor("user", str(user.id), user.email, ip), "auth.login")

    if user is None:
        state.metrics.logins.labels("failed").inc()
        await record_audit(
            state.audit,
            Actor("anonymous", None, email, ip),
            "auth.login",
            outcome="refused",
            detail={"reason": "bad_credentials"},
        )
        return render(
            request,
            "login.html",
            {"error": GENERIC_FAILURE, "email": email, "next": next_url},
            status_code=401,
        )

    # Only failures count: the address keeps its other attempts, the account starts afresh.
    await state.login_limiter.release(reservation)
    await state.login_limiter.reset(f"email:{email}")
    state.metrics.logins.labels("ok").inc()
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.session_absolute_hours * 3600,
        httponly=True,
        secure=state.settings.cookies_secure,
        samesite="lax",
        path="/",
    )
    return response


async def logout(request: Request) -> Response:
    state = app_state(request)
    user = await current_user(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with unit_of_work(request) as session:
            await end_login_session(session, token)
            if user is not None:
                add_audit(
                    session,
                    Actor("user", str(user.id), user.email, client_ip(request)),
                    "auth.logout",
                )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=state.settings.cookies_secure, httponly=True
    )
    return response


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
