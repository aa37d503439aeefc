"""recording files: where each begins on the recording's clock

Revision ID: 5b2e8f41c9a3
Revises: 0d86c454d9ff
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b2e8f41c9a3"
down_revision: str | None = "0d86c454d9ff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offset_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.drop_column("offset_ms")
