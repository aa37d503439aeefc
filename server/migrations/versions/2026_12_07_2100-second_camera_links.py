"""second camera links: single-use, short-lived links joining a phone as a second camera

Revision ID: 9d3a5c7e2f41
Revises: 5b7e2c9d4f10
Create Date: 2026-12-07 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "9d3a5c7e2f41"
down_revision: str | None = "5b7e2c9d4f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "second_camera_links",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("link_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", server.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", server.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_sessions.id"],
            name=op.f("fk_second_camera_links_session_id_video_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_sha256", name=op.f("pk_second_camera_links")),
    )
    with op.batch_alter_table("second_camera_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_second_camera_links_session_id"), ["session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("second_camera_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_second_camera_links_session_id"))
    op.drop_table("second_camera_links")
