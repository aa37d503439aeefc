"""The telehealth licensure gate: may this therapist see a client located in this state today?

Called at booking, and again by the video-session domain when a session starts and when the
parent confirms in the lobby where the child is, since licenses lapse and families travel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import License, User
from server.services.geography import is_state, state_name

EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class LicensureResult:
    allowed: bool
    state_code: str
    state_name: str
    on_date: date
    credential: License | None = None

    @property
    def via(self) -> str | None:
        """'license' or 'compact' when allowed."""
        return self.credential.kind if self.credential is not None else None

    @property
    def message(self) -> str:
        where = f"{self.state_name} ({self.state_code})"
        if self.allowed and self.credential is not None:
            what = "compact privilege" if self.credential.kind == "compact" else "license"
            return (
                f"Covered by your {what} in {where} until {self.credential.expires_on:%b %-d, %Y}."
            )
        return (
            f"You have no active license or compact privilege in {where}. "
            "Add one under Profile → Licenses, or book in person."
        )


async def list_licenses(session: AsyncSession, therapist: User) -> list[License]:
    rows = await session.scalars(
        select(License)
        .where(License.therapist_id == therapist.id)
        .order_by(License.state, License.expires_on)
    )
    return list(rows)


async def check_telehealth_licensure(
    session: AsyncSession, therapist: User, state_code: str, on_date: date
) -> LicensureResult:
    """Allowed when a license or compact privilege for the state is valid through on_date.

    A credential is active through its expiry date (inclusive). Pure read: callers audit the
    decision with their own context (booking, session start, lobby confirmation).
    """
    code = state_code.strip().upper()
    name = state_name(code) if is_state(code) else code
    rows = await session.scalars(
        select(License)
        .where(
            License.therapist_id == therapist.id,
            License.state == code,
            License.expires_on >= on_date,
        )
        # A full license outranks a compact privilege; then the longest-lasting.
        .order_by(License.kind.desc(), License.expires_on.desc())
    )
    best = rows.first()
    return LicensureResult(best is not None, code, name, on_date, best)


@dataclass(frozen=True)
class ExpiryWarning:
    license: License
    days_left: int

    @property
    def message(self) -> str:
        what = "compact privilege" if self.license.kind == "compact" else "license"
        where = f"{state_name(self.license.state)} ({self.license.state})"
        if self.days_left < 0:
            return f"Your {what} in {where} expired on {self.license.expires_on:%b %-d, %Y}."
        return (
            f"Your {what} in {where} expires in {self.days_left} days "
            f"({self.license.expires_on:%b %-d, %Y}): renew it to keep booking telehealth there."
        )


async def expiring_licenses(
    session: AsyncSession, therapist: User, today: date, within_days: int = EXPIRY_WARNING_DAYS
) -> list[ExpiryWarning]:
    """Credentials expiring within the window, plus ones expired in the last 30 days."""
    rows = await session.scalars(
        select(License)
        .where(
            License.therapist_id == therapist.id,
            License.expires_on <= today + timedelta(days=within_days),
            License.expires_on >= today - timedelta(days=30),
        )
        .order_by(License.expires_on)
    )
    return [ExpiryWarning(r, (r.expires_on - today).days) for r in rows]
