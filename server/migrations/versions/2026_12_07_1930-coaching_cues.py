"""coaching cues: a plan of care's own cue cards for the parent

Revision ID: 8e2f4b6a1c37
Revises: 5c1e7a9b3d20
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e2f4b6a1c37"
down_revision: str | None = "5c1e7a9b3d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coaching_cues", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.drop_column("coaching_cues")
