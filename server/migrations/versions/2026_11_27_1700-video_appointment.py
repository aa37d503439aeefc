"""link video sessions to the appointment they were started from

Revision ID: 4e1a9c7b2d10
Revises: b8d41f6c2e97
Create Date: 2026-11-27 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "4e1a9c7b2d10"
down_revision: str | None = "b8d41f6c2e97"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("video_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("appointment_id", server.db.UUIDString(length=36), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_video_sessions_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_video_sessions_appointment_id_appointments"),
            "appointments",
            ["appointment_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("video_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_video_sessions_appointment_id_appointments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_video_sessions_appointment_id"))
        batch_op.drop_column("appointment_id")
