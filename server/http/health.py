"""/healthz (database and Redis reachable, for load balancers) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
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
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )


async def metrics(request: Request) -> Response:
    registry = app_state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
    Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
]
