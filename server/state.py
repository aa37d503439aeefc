"""Everything long-lived the app owns, created in the lifespan and closed with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.config import Settings
from server.observability import Metrics
from server.passwords import Passwords
from server.ratelimit import Limiter
from server.services.accounts import SessionPolicy
from server.services.audit import AuditLog


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    passwords: Passwords
    metrics: Metrics
    login_limiter: Limiter
    audit: AuditLog
    redis: Any | None = None  # redis.asyncio.Redis when configured
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def session_policy(self) -> SessionPolicy:
        return SessionPolicy(
            idle=timedelta(minutes=self.settings.session_idle_minutes),
            absolute=timedelta(hours=self.settings.session_absolute_hours),
        )
