"""A therapist's practice on the real database: one unit of work, the therapist, children on the
caseload, licenses. Shared by the service tests.

The scheduling tests' therapist and children are added straight from the models (not through the
client service, which audits) so that a test's audit log holds only what the service under test
wrote; `add_account` makes an account as the app does, for tests that sign in or need a real one.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from fast_passwords import FAST_PASSWORDS
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import make_engine, make_sessionmaker
from server.models import Client, License, User, UserRole
from server.services.accounts import create_user
from server.services.audit import Actor
from server.services.scheduling.profile import add_license

CHICAGO = "America/Chicago"
ACCOUNT_PASSWORD = "correct-horse-1"


@asynccontextmanager
async def unit_of_work(database_url: str) -> AsyncIterator[AsyncSession]:
    """One session in one transaction, committed when the block ends without an error."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


async def add_therapist(session: AsyncSession) -> tuple[User, Actor]:
    """A therapist in Chicago, and the actor their own actions are audited as."""
    user = User(
        email=f"t-{secrets.token_hex(4)}@example.test", name="T", role=UserRole.therapist,
        password_hash="x", time_zone=CHICAGO,
    )  # fmt: skip
    session.add(user)
    await session.flush()
    return user, Actor("user", str(user.id), user.email)


async def add_account(
    session: AsyncSession, name: str = "Dr. Test", *, time_zone: str = "America/New_York"
) -> User:
    """A therapist account made by the accounts service (password ACCOUNT_PASSWORD, cheap hash)."""
    return await create_user(
        session, FAST_PASSWORDS, email=f"t-{secrets.token_hex(4)}@example.test", name=name,
        password=ACCOUNT_PASSWORD, time_zone=time_zone,
    )  # fmt: skip


async def add_child(
    session: AsyncSession, therapist: User, first_name: str = "Kid", last_name: str = "Test",
    *, home_state: str = "IL", time_zone: str = CHICAGO,
) -> Client:  # fmt: skip
    """A child on the therapist's caseload, born 2019, no caregivers."""
    client = Client(
        therapist_id=therapist.id, first_name=first_name, last_name=last_name,
        date_of_birth=date(2019, 1, 1), time_zone=time_zone, home_state=home_state, notes="",
        caregivers=[],
    )  # fmt: skip
    session.add(client)
    await session.flush()
    return client


async def license_in(
    session: AsyncSession, therapist: User, actor: Actor, state: str = "IL",
    expires_on: date = date(2030, 1, 1), *, kind: str = "license",
) -> License:  # fmt: skip
    """A license (or, with kind="compact", a compact privilege) in one state."""
    number = "1" if kind == "license" else ""
    return await add_license(
        session, therapist, kind=kind, state=state, number=number, expires_on=expires_on,
        actor=actor,
    )  # fmt: skip
