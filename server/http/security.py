"""CSRF and Origin checks on every state-changing request, and security headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "tandem_session"
CSRF_COOKIE = "tandem_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_FORM_BYTES = 1024 * 1024


def csrf_token_for(secret: str, request: Request) -> str:
    """The token a form must echo: bound to the sign-in session, or to a pre-login cookie."""
    bound = request.cookies.get(SESSION_COOKIE) or request.scope.get("tandem.csrf_seed", "")
    return hmac.new(secret.encode(), f"csrf:{bound}".encode(), hashlib.sha256).hexdigest()


def _expected(secret: str, cookies: dict[str, str]) -> str | None:
    bound = cookies.get(SESSION_COOKIE) or cookies.get(CSRF_COOKIE)
    if not bound:
        return None
    return hmac.new(secret.encode(), f"csrf:{bound}".encode(), hashlib.sha256).hexdigest()


def _parse_cookies(headers: Headers) -> dict[str, str]:
    return cookie_parser(headers.get("cookie", ""))


def own_origin(public_base_url: str | None, scheme: str, host: str) -> str:
    """The origin Tandem is served from: the configured public URL, else this request's host."""
    if public_base_url:
        parts = urlsplit(public_base_url)
        return f"{parts.scheme}://{parts.netloc}"
    secure = scheme in ("https", "wss")
    return f"{'https' if secure else 'http'}://{host}"


def _cross_origin(scope: Scope, headers: Headers, public_base_url: str | None) -> bool:
    # Browsers send Origin on every unsafe request (and Sec-Fetch-Site where they can); a
    # client that sends neither (curl, the test client) still needs the CSRF token.
    origin = headers.get("origin")
    expected = own_origin(public_base_url, scope.get("scheme", "http"), headers.get("host", ""))
    if origin is not None and origin != expected:
        return True
    return headers.get("sec-fetch-site") == "cross-site"


class CSRFMiddleware:
    """Checks unsafe requests before any endpoint runs, so no form can forget it.

    The token travels in the form field `csrf_token` or the `X-CSRF-Token` header; a
    urlencoded body is buffered (bounded) and replayed to the endpoint unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret: str,
        secure_cookies: bool,
        public_base_url: str | None = None,
    ) -> None:
        self.app = app
        self.secret = secret
        self.secure = secure_cookies
        self.public_base_url = public_base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = _parse_cookies(headers)
        new_seed: str | None = None
        if not cookies.get(CSRF_COOKIE):
            new_seed = secrets.token_urlsafe(32)
            scope["tandem.csrf_seed"] = new_seed
        else:
            scope["tandem.csrf_seed"] = cookies[CSRF_COOKIE]

        send_with_cookie = send
        if new_seed is not None:
            cookie = f"{CSRF_COOKIE}={new_seed}; Path=/; HttpOnly; SameSite=Lax"
            if self.secure:
                cookie += "; Secure"

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"set-cookie", cookie.encode("latin-1")),
                    ]
                await send(message)

        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send_with_cookie)
            return

        if _cross_origin(scope, headers, self.public_base_url):
            scope["tandem.csrf_failed"] = True
            await _reject(send, scope, 403, "This request came from another site.")
            return
        expected = _expected(self.secret, cookies)
        supplied = headers.get(CSRF_HEADER)
        body = b""
        replay_receive = receive
        if supplied is None and headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_FORM_BYTES:
                    await _reject(send, scope, 413, "The form is too large.")
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            values = parse_qs(body.decode("latin-1"), max_num_fields=500).get(CSRF_FIELD)
            supplied = values[0] if values else None
            sent = False

            async def replay_receive() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

        if expected is None or supplied is None or not hmac.compare_digest(expected, supplied):
            scope["tandem.csrf_failed"] = True
            await _reject(send, scope, 403, "This form expired or did not come from Tandem.")
            return
        await self.app(scope, replay_receive, send_with_cookie)


async def _reject(send: Send, scope: Scope, status: int, message: str) -> None:
    headers = Headers(scope=scope)
    wants_html = "text/html" in headers.get("accept", "") and not scope["path"].startswith("/api/")
    if wants_html:
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Tandem</title>"
            f"<main style='font-family:sans-serif;max-width:40rem;margin:4rem auto'>"
            f"<h1>Request refused</h1><p>{message}</p>"
            "<p><a href='javascript:history.back()'>Go back</a>, reload the page and try again.</p>"
            "</main>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        code = "csrf_failed" if status == 403 else "payload_too_large"
        body = f'{{"error": {{"code": "{code}", "message": "{message}"}}}}'.encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Headers on every response; pages and API answers are never stored by a browser or proxy
    (they carry health information); only /static/ may be cached."""

    def __init__(self, app: ASGIApp, hsts: bool, public_base_url: str | None = None) -> None:
        self.app = app
        self.hsts = hsts
        self.public_base_url = public_base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = own_origin(
            self.public_base_url, scope.get("scheme", "http"), headers.get("host", "")
        )
        # The signaling socket, and nothing else: `connect-src ws: wss:` allowed any host.
        socket_origin = origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        csp = (
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:;"
            f" connect-src 'self' {socket_origin}; style-src 'self'; script-src 'self';"
            " frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        ).encode("latin-1", errors="replace")
        cacheable = scope["path"].startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    # Never a Referer to another site (join links carry tokens); same-origin
                    # keeps the Origin header on our own POSTs, which "no-referrer" turns into
                    # "null" and the Origin check would then refuse.
                    (b"referrer-policy", b"same-origin"),
                    (
                        b"permissions-policy",
                        b"camera=(self), microphone=(self), geolocation=()",
                    ),
                    (b"content-security-policy", csp),
                ]
                if not cacheable and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                if self.hsts:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_wrapper)
