"""home-program clips: an item may carry a clip cut from a session's recording

Revision ID: 1268fed466fd
Revises: e3ff17c4c43a
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "1268fed466fd"
down_revision: str | None = "e3ff17c4c43a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("home_program_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clip_file_id", server.db.UUIDString(length=36), nullable=True)
        )
        batch_op.add_column(sa.Column("clip_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("clip_start_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("clip_end_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("clip_lead_in_ms", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_home_program_items_clip_file_id_recording_files"),
            "recording_files",
            ["clip_file_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("home_program_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_home_program_items_clip_file_id_recording_files"), type_="foreignkey"
        )
        batch_op.drop_column("clip_lead_in_ms")
        batch_op.drop_column("clip_end_ms")
        batch_op.drop_column("clip_start_ms")
        batch_op.drop_column("clip_name")
        batch_op.drop_column("clip_file_id")
