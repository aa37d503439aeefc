"""outbox delivery: every attempt recorded, a stable Message-ID, due times for retries and
reminders, a lease for the worker that sends, and idempotent queuing

Revision ID: c4b9bdad7767
Revises: 2a443ff18a93
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "c4b9bdad7767"
down_revision: str | None = "2a443ff18a93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_attempts",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("message_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_outbox_attempts_message_id_outbox_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempts")),
    )
    with op.batch_alter_table("outbox_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_attempts_message_id"), ["message_id"], unique=False
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("html_body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rfc_message_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("next_attempt_at", server.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("claimed_until", server.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=160), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_outbox_messages_dedupe_key"), ["dedupe_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_messages_dedupe_key"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_outbox_messages_next_attempt_at"))
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("rfc_message_id")
        batch_op.drop_column("html_body")

    with op.batch_alter_table("outbox_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_attempts_message_id"))

    op.drop_table("outbox_attempts")
