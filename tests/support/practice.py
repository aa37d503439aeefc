"""A therapist's practice on the real database, built straight from the models: one unit of work,
the therapist, children on the caseload, licenses. Shared by the scheduling service tests.

Rows are added directly (not through the account and client services) so that a test's audit
log holds only what the service under test wrote.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.db import make_engine, make_sessionmaker
from server.models import Client, License, User, UserRole
from server.services.audit import Actor
from server.services.scheduling.profile import add_license

CHICAGO = "America/Chicago"


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
