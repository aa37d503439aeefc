"""family access: sign-in links and family sessions (hashes of their tokens only), and the
home program

Revision ID: 942dc6e58b8c
Revises: c4b9bdad7767
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "942dc6e58b8c"
down_revision: str | None = "c4b9bdad7767"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_program_items",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("created_by", server.db.UUIDString(length=36), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("instruction", sa.String(length=1000), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_home_program_items_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_home_program_items_created_by_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_home_program_items")),
    )
    with op.batch_alter_table("home_program_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_home_program_items_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "family_sign_in_links",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("caregiver_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("created_by", server.db.UUIDString(length=36), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_family_sign_in_links_caregiver_id_caregivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_family_sign_in_links_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_family_sign_in_links_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_sign_in_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_family_sign_in_links_token_hash")),
    )
    with op.batch_alter_table("family_sign_in_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_sign_in_links_caregiver_id"), ["caregiver_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_family_sign_in_links_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "family_sessions",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("link_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("caregiver_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_family_sessions_caregiver_id_caregivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_family_sessions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["family_sign_in_links.id"],
            name=op.f("fk_family_sessions_link_id_family_sign_in_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_family_sessions_token_hash")),
    )
    with op.batch_alter_table("family_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_family_sessions_caregiver_id"), ["caregiver_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_family_sessions_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_family_sessions_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("family_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_sessions_link_id"))
        batch_op.drop_index(batch_op.f("ix_family_sessions_client_id"))
        batch_op.drop_index(batch_op.f("ix_family_sessions_caregiver_id"))

    op.drop_table("family_sessions")
    with op.batch_alter_table("family_sign_in_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_sign_in_links_client_id"))
        batch_op.drop_index(batch_op.f("ix_family_sign_in_links_caregiver_id"))

    op.drop_table("family_sign_in_links")
    with op.batch_alter_table("home_program_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_home_program_items_client_id"))

    op.drop_table("home_program_items")
