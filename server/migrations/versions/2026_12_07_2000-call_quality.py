"""call quality on the record: running totals of each participant's getStats reports

Revision ID: 5b7e2c9d4f10
Revises: 8e2f4b6a1c37
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "5b7e2c9d4f10"
down_revision: str | None = "8e2f4b6a1c37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_quality",
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("covered_ms", sa.Integer(), nullable=False),
        sa.Column("freezes", sa.Integer(), nullable=False),
        sa.Column("frozen_ms", sa.Integer(), nullable=False),
        sa.Column("send_kbps_sum", sa.Float(), nullable=False),
        sa.Column("recv_kbps_sum", sa.Float(), nullable=False),
        sa.Column("fps_sum", sa.Float(), nullable=False),
        sa.Column("loss_sum", sa.Float(), nullable=False),
        sa.Column("rtt_ms_sum", sa.Integer(), nullable=False),
        sa.Column("rtt_reports", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.String(length=8), nullable=True),
        sa.Column("protocol", sa.String(length=8), nullable=True),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_sessions.id"],
            name=op.f("fk_call_quality_session_id_video_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "participant_id", name=op.f("pk_call_quality")),
    )


def downgrade() -> None:
    op.drop_table("call_quality")
