"""What `alembic check` would say about some tables: the autogenerate diff between a migrated
database and the models, kept to the entries that mention those tables. Shared by the tests that
pin a domain's hand-written migration to its models, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from server.db import Base, make_engine


async def drift(database_url: str, tables: set[str]) -> list[Any]:
    """The diff entries (alembic's own shapes: tuples, lists of tuples) naming any of ``tables``;
    empty when the migrations and the models agree on them."""

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [c for c in compare_metadata(context, Base.metadata) if tables & _names(c)]

    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(diff)
    finally:
        await engine.dispose()


def _names(change: Any) -> set[str]:
    """Every table name mentioned anywhere in an autogenerate diff entry."""
    found: set[str] = set()
    if isinstance(change, str):
        found.add(change)
    elif isinstance(change, list | tuple):
        for part in change:
            found |= _names(part)
    else:
        table = getattr(change, "table", None)
        for value in (getattr(change, "name", None), getattr(table, "name", None)):
            if isinstance(value, str):
                found.add(value)
    return found
