"""calls that survive a restart: node heartbeats, attendance's hosting node, removals

Revision ID: 3d9a6f0c2b71
Revises: 8c41d2e7a0b5
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "3d9a6f0c2b71"
down_revision: str | None = "8c41d2e7a0b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_nodes",
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_video_nodes")),
    )
    op.create_table(
        "session_removals",
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("removed_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_sessions.id"],
            name=op.f("fk_session_removals_session_id_video_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "participant_id", name=op.f("pk_session_removals")),
    )
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node_id", sa.String(length=128), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_session_attendance_node_id"), ["node_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_attendance_node_id"))
        batch_op.drop_column("node_id")

    op.drop_table("session_removals")
    op.drop_table("video_nodes")
