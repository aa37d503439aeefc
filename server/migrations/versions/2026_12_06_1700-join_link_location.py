"""join links: the state the parent confirmed on the check page (licensure gate at join)

Revision ID: 8c41d2e7a0b5
Revises: 5b2e8f41c9a3
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "8c41d2e7a0b5"
down_revision: str | None = "5b2e8f41c9a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("join_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location_state", sa.String(length=2), nullable=True))
        batch_op.add_column(
            sa.Column("location_confirmed_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("join_links", schema=None) as batch_op:
        batch_op.drop_column("location_confirmed_at")
        batch_op.drop_column("location_state")
