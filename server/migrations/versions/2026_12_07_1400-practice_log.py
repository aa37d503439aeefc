"""practice log: the family's record of practising each home-program item

Revision ID: e3ff17c4c43a
Revises: b3525b1ef23e
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "e3ff17c4c43a"
down_revision: str | None = "b3525b1ef23e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "practice_entries",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("item_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("caregiver_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("practiced_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("how_it_went", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_practice_entries_caregiver_id_caregivers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_practice_entries_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["home_program_items.id"],
            name=op.f("fk_practice_entries_item_id_home_program_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_entries")),
    )
    with op.batch_alter_table("practice_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_entries_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_practice_entries_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("practice_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_entries_item_id"))
        batch_op.drop_index(batch_op.f("ix_practice_entries_client_id"))

    op.drop_table("practice_entries")
