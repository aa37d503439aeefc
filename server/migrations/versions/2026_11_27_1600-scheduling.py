"""scheduling: profile (licenses, locations, rates, preferences), availability, appointments,
calendar feeds, outbox

Revision ID: 83ca4e72247d
Revises: 7f3c2a91d0b4
Create Date: 2026-11-27 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "83ca4e72247d"
down_revision: str | None = "7f3c2a91d0b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_fetched_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_calendar_feeds_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_feeds_therapist_id"), ["therapist_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_calendar_feeds_token_hash"), ["token_hash"], unique=True
        )

    op.create_table(
        "practice_locations",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("archived_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_practice_locations_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_locations")),
    )
    with op.batch_alter_table("practice_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_locations_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "practice_rates",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_practice_rates_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_rates")),
    )
    with op.batch_alter_table("practice_rates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_rates_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "schedule_preferences",
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("travel_buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("long_gap_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_schedule_preferences_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_schedule_preferences")),
    )
    op.create_table(
        "therapist_licenses",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_therapist_licenses_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapist_licenses")),
    )
    with op.batch_alter_table("therapist_licenses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_therapist_licenses_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "appointment_series",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("anchor_zone", sa.String(length=64), nullable=False),
        sa.Column("local_start", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("continued_by_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_appointment_series_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_appointment_series_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_series")),
    )
    with op.batch_alter_table("appointment_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_series_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointment_series_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "availability_blocks",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("location_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["practice_locations.id"],
            name=op.f("fk_availability_blocks_location_id_practice_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_availability_blocks_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_blocks")),
    )
    with op.batch_alter_table("availability_blocks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_blocks_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "availability_exceptions",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column("location_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["practice_locations.id"],
            name=op.f("fk_availability_exceptions_location_id_practice_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_availability_exceptions_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    with op.batch_alter_table("availability_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_exceptions_on_date"), ["on_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_availability_exceptions_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "appointments",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("series_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("starts_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("location_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("client_state", sa.String(length=2), nullable=False),
        sa.Column("service_type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cancel_reason", sa.String(length=300), nullable=True),
        sa.Column("rate_cents", sa.Integer(), nullable=True),
        sa.Column("override_reason", sa.String(length=300), nullable=True),
        sa.Column("overridden", sa.JSON(), nullable=False),
        sa.Column("video_session_id", sa.String(length=64), nullable=True),
        sa.Column("checked_in_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_appointments_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["practice_locations.id"],
            name=op.f("fk_appointments_location_id_practice_locations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["appointment_series.id"],
            name=op.f("fk_appointments_series_id_appointment_series"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_appointments_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_appointments_therapist_starts", ["therapist_id", "starts_at"], unique=False
        )

    op.create_table(
        "outbox_messages",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("appointment_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_outbox_messages_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_messages_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_appointment_id"))

    op.drop_table("outbox_messages")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_therapist_starts")
        batch_op.drop_index(batch_op.f("ix_appointments_status"))
        batch_op.drop_index(batch_op.f("ix_appointments_client_id"))

    op.drop_table("appointments")
    with op.batch_alter_table("availability_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_exceptions_therapist_id"))
        batch_op.drop_index(batch_op.f("ix_availability_exceptions_on_date"))

    op.drop_table("availability_exceptions")
    with op.batch_alter_table("availability_blocks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_availability_blocks_therapist_id"))

    op.drop_table("availability_blocks")
    with op.batch_alter_table("appointment_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_series_therapist_id"))
        batch_op.drop_index(batch_op.f("ix_appointment_series_client_id"))

    op.drop_table("appointment_series")
    with op.batch_alter_table("therapist_licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_therapist_licenses_therapist_id"))

    op.drop_table("therapist_licenses")
    op.drop_table("schedule_preferences")
    with op.batch_alter_table("practice_rates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_rates_therapist_id"))

    op.drop_table("practice_rates")
    with op.batch_alter_table("practice_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_locations_therapist_id"))

    op.drop_table("practice_locations")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_token_hash"))
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_therapist_id"))

    op.drop_table("calendar_feeds")
