"""video sessions, join links, attendance

Revision ID: 7f3c2a91d0b4
Revises: ce46e96b1eb5
Create Date: 2026-11-27 15:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "7f3c2a91d0b4"
down_revision: str | None = "ce46e96b1eb5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "video_sessions",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open", "live", "ended", name="videosessionstate", native_enum=False, length=10
            ),
            nullable=False,
        ),
        sa.Column("planned_start", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("planned_end", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("live_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_video_sessions_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_video_sessions_therapist_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_sessions")),
    )
    with op.batch_alter_table("video_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_video_sessions_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_video_sessions_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "join_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_sessions.id"],
            name=op.f("fk_join_links_session_id_video_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_links")),
    )
    with op.batch_alter_table("join_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_join_links_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_attendance",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("joined_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["video_sessions.id"],
            name=op.f("fk_session_attendance_session_id_video_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_attendance")),
    )
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_attendance_session", ["session_id", "participant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("session_attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_session_attendance_session")
    op.drop_table("session_attendance")
    with op.batch_alter_table("join_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_join_links_session_id"))
    op.drop_table("join_links")
    with op.batch_alter_table("video_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_sessions_therapist_id"))
        batch_op.drop_index(batch_op.f("ix_video_sessions_client_id"))
    op.drop_table("video_sessions")
