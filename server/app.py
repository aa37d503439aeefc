"""The app factory: builds the ASGI app from settings; the lifespan owns every long-lived object."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.http import (
    api,
    api_documentation,
    api_schedule,
    health,
    pages_admin,
    pages_auth,
    pages_billing,
    pages_billing_setup,
    pages_clients,
    pages_documentation,
    pages_documentation_notes,
    pages_goal_tags,
    pages_home,
    pages_profile,
    pages_schedule,
    pages_schedule_booking,
    pages_schedule_feed,
)
from server.http.errors import domain_error, http_exception, server_error
from server.http.security import CSRFMiddleware, SecurityHeadersMiddleware
from server.http.templating import make_templates
from server.observability import Metrics, ObservabilityMiddleware
from server.passwords import Passwords
from server.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from server.services.audit import AuditLog
from server.services.errors import DomainError
from server.state import AppState

log = logging.getLogger("tandem.app")

# Later domains plug in here: each returns its routes and may start/stop things in the lifespan.
Extension = Callable[[AppState], contextlib.AbstractAsyncContextManager[None]]


def base_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *pages_auth.routes,
        *pages_home.routes,
        *pages_clients.routes,
        *pages_admin.routes,
        *api.routes,
        *pages_schedule.routes,
        *pages_schedule_booking.routes,
        *pages_schedule_feed.routes,
        *pages_profile.routes,
        *api_schedule.routes,
        *pages_documentation.routes,
        *pages_documentation_notes.routes,
        *pages_goal_tags.routes,
        *api_documentation.routes,
        *pages_billing.routes,
        *pages_billing_setup.routes,
        Mount("/static", StaticFiles(packages=[("web", "static")]), name="static"),
    ]


async def _flush_audit_summaries(audit: AuditLog, every: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await audit.flush()
        except Exception:  # the database may be briefly away; the next round writes them
            log.exception("writing audit summaries failed")


def create_app(
    settings: Settings,
    *,
    extra_routes: list[BaseRoute] | None = None,
    extensions: list[Extension] | None = None,
) -> Starlette:
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        redis_client: Any | None = None
        if settings.redis_url:
            import redis.asyncio as aioredis

            redis_client = aioredis.from_url(settings.redis_url, decode_responses=False)
        login_limiter: Limiter
        if redis_client is not None:
            login_limiter = RedisLimiter(
                redis_client,
                settings.redis_prefix,
                settings.login_max_failures,
                settings.login_window_seconds,
            )
        else:
            login_limiter = MemoryLimiter(
                settings.login_max_failures, settings.login_window_seconds
            )
        passwords = Passwords()
        db = make_sessionmaker(engine)
        audit = AuditLog(db)
        state = AppState(
            settings=settings,
            engine=engine,
            db=db,
            passwords=passwords,
            metrics=metrics,
            login_limiter=login_limiter,
            audit=audit,
            redis=redis_client,
        )
        app.state.tandem = state
        flusher = asyncio.create_task(_flush_audit_summaries(audit), name="audit-summaries")
        try:
            async with contextlib.AsyncExitStack() as stack:
                for extension in extensions or []:
                    await stack.enter_async_context(extension(state))
                log.info(
                    "started",
                    extra={"database": engine.dialect.name, "redis": bool(redis_client)},
                )
                yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            # Refusals counted but not yet summarized are written before the process goes.
            with contextlib.suppress(Exception):
                await audit.flush(everything=True)
            passwords.close()
            if redis_client is not None:
                await redis_client.aclose()
            await engine.dispose()

    routes = [*base_routes(), *(extra_routes or [])]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            DomainError: domain_error,
            HTTPException: http_exception,
            Exception: server_error,
        },
        middleware=[
            Middleware(ObservabilityMiddleware, metrics=metrics, routes=routes),
            Middleware(
                SecurityHeadersMiddleware,
                hsts=settings.cookies_secure,
                public_base_url=settings.public_base_url,
            ),
            Middleware(
                CSRFMiddleware,
                secret=settings.secret_key,
                secure_cookies=settings.cookies_secure,
                public_base_url=settings.public_base_url,
            ),
        ],
    )
    app.state.templates = make_templates()
    app.state.settings = settings
    return app
