"""/healthz (database and Redis reachable, for load balancers) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .context import app_state


async def healthz(request: Request) -> Response:
    state = app_state(request)
    checks: dict[str, Any] = {}
    healthy = True
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = {"status": "ok", "backend": state.engine.dialect.name}
    except Exception as exc:  # any failure is the answer, not a crash
        healthy = False
        checks["database"] = {"status": "error", "error": type(exc).__name__}
    if state.redis is None:
        checks["redis"] = {"status": "not_configured"}
    else:
        try:
            async with asyncio.timeout(3):
                await state.redis.ping()
            checks["redis"] = {"status": "ok"}
        except Exception as exc:  # any failure is the answer, not a crash
            healthy = False
            checks["redis"] = {"status": "error", "error": type(exc).__name__}
    runtime = state.extras.get("video")
    if runtime is not None and runtime.draining:
        # The load balancer sends this node no new connection; the calls on it are moving.
        return JSONResponse({"status": "draining", **checks}, status_code=503)
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


def _may_read_metrics(request: Request, token: str | None) -> bool:
    if token is not None:
        supplied = request.headers.get("authorization", "")
        return hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode())
    # The peer itself, not X-Forwarded-For: uvicorn already resolved trusted proxies into it.
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    state = app_state(request)
    if not _may_read_metrics(request, state.settings.metrics_token):
        # Counts of sessions and sign-ins are operational data: not for the public internet.
        return JSONResponse(
            {"error": {"code": "forbidden", "message": "Metrics are not public."}},
            status_code=403,
        )
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
    Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
]
