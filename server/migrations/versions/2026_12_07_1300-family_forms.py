"""family forms: consents signed by typed name and stored with their exact text, and the
intake form

Revision ID: b3525b1ef23e
Revises: 942dc6e58b8c
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "b3525b1ef23e"
down_revision: str | None = "942dc6e58b8c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_responses",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("caregiver_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_intake_responses_caregiver_id_caregivers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_intake_responses_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_responses")),
    )
    with op.batch_alter_table("intake_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_responses_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "signed_consents",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("caregiver_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("signed_name", sa.String(length=200), nullable=False),
        sa.Column("signed_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["caregiver_id"],
            ["caregivers.id"],
            name=op.f("fk_signed_consents_caregiver_id_caregivers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_signed_consents_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_consents")),
    )
    with op.batch_alter_table("signed_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signed_consents_client_id"), ["client_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signed_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signed_consents_client_id"))

    op.drop_table("signed_consents")
    with op.batch_alter_table("intake_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_responses_client_id"))

    op.drop_table("intake_responses")
