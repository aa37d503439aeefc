"""documentation: chart facts, versioned plans of care and goals, notes locked once signed

Revision ID: 0d86c454d9ff
Revises: 4e1a9c7b2d10
Create Date: 2026-11-27 17:30:00

The signed-note lock is written out here (not imported from the models) so that this migration
keeps meaning what it meant when it ran, whatever the models become later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db
from server.db_guards import create_append_only, drop_append_only

revision: str = "0d86c454d9ff"
down_revision: str | None = "4e1a9c7b2d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chart_consents",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("given_by", sa.String(length=200), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_by_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_chart_consents_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_chart_consents_recorded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chart_consents")),
    )
    with op.batch_alter_table("chart_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chart_consents_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "diagnoses",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("onset", sa.Date(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_diagnoses_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnoses")),
    )
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diagnoses_client_id"), ["client_id"], unique=False)

    op.create_table(
        "plans_of_care",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("discipline", sa.String(length=10), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column("visits_per_week", sa.Integer(), nullable=False),
        sa.Column("visit_minutes", sa.Integer(), nullable=False),
        sa.Column("cert_start", sa.Date(), nullable=False),
        sa.Column("cert_end", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_by_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_plans_of_care_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_plans_of_care_created_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["plans_of_care.id"],
            name=op.f("fk_plans_of_care_supersedes_id_plans_of_care"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_plans_of_care_therapist_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans_of_care")),
    )
    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.create_index(
            "ix_plans_of_care_client_version", ["client_id", "version"], unique=False
        )

    op.create_table(
        "referrals",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("referring_provider", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_referrals_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_client_id"), ["client_id"], unique=False)

    op.create_table(
        "goals",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("plan_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("lineage_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=5), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("measure", sa.String(length=20), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("baseline", sa.Double(), nullable=False),
        sa.Column("target", sa.Double(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans_of_care.id"],
            name=op.f("fk_goals_plan_id_plans_of_care"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goals_lineage_id"), ["lineage_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_goals_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "notes",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("author_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("appointment_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("video_session_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("plan_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("note_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("time_in", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("time_out", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("modality", sa.String(length=12), nullable=True),
        sa.Column("client_location_state", sa.String(length=2), nullable=True),
        sa.Column("present", sa.Text(), nullable=False),
        sa.Column("telehealth_consent", sa.Boolean(), nullable=True),
        sa.Column("subjective", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("measures", sa.JSON(), nullable=False),
        sa.Column("session_facts", sa.JSON(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("late_entry", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_notes_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_notes_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans_of_care.id"],
            name=op.f("fk_notes_plan_id_plans_of_care"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["video_session_id"],
            ["video_sessions.id"],
            name=op.f("fk_notes_video_session_id_video_sessions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
        sa.UniqueConstraint("appointment_id", "note_type", name=op.f("uq_notes_appointment_id")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index("ix_notes_author_status", ["author_id", "status"], unique=False)
        batch_op.create_index("ix_notes_client_date", ["client_id", "service_date"], unique=False)

    op.create_table(
        "note_addenda",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("note_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("author_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_note_addenda_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["notes.id"],
            name=op.f("fk_note_addenda_note_id_notes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addenda")),
    )
    with op.batch_alter_table("note_addenda", schema=None) as batch_op:
        batch_op.create_index("ix_note_addenda_note", ["note_id", "created_at"], unique=False)

    create_append_only("note_addenda")
    _create_signed_note_lock()


# Every column of notes but appointment_id: that link goes NULL when the schedule row is deleted
# (ON DELETE SET NULL fires update triggers too), and the note keeps its own visit date and times.
LOCKED_COLUMNS = (
    "id", "client_id", "author_id", "video_session_id", "plan_id", "note_type", "status",
    "service_date", "mode", "time_in", "time_out", "modality", "client_location_state",
    "present", "telehealth_consent", "subjective", "objective", "assessment", "plan",
    "measures", "session_facts", "created_at", "updated_at", "signed_at", "late_entry",
    "content_hash",
)  # fmt: skip
JSON_COLUMNS = ("measures", "session_facts")
MESSAGE = "notes: a signed note cannot be changed or deleted; add an addendum"


def _create_signed_note_lock() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in LOCKED_COLUMNS)
        op.execute(
            "CREATE TRIGGER notes_signed_no_update BEFORE UPDATE ON notes "
            f"WHEN OLD.status = 'signed' AND ({changed}) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            "CREATE TRIGGER notes_signed_no_delete BEFORE DELETE ON notes "
            f"WHEN OLD.status = 'signed' BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
    elif dialect == "postgresql":
        # json has no equality operator: compare its text form.
        changed = " OR ".join(
            f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text"
            if c in JSON_COLUMNS
            else f"NEW.{c} IS DISTINCT FROM OLD.{c}"
            for c in LOCKED_COLUMNS
        )
        op.execute(
            "CREATE FUNCTION notes_signed_lock() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.status = 'signed' THEN "
            f"IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{MESSAGE}'; END IF; "
            f"IF {changed} THEN RAISE EXCEPTION '{MESSAGE}'; END IF; "
            "END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER notes_signed_lock BEFORE UPDATE OR DELETE ON notes "
            "FOR EACH ROW EXECUTE FUNCTION notes_signed_lock()"
        )
    else:  # pragma: no cover - only the two supported backends exist
        raise RuntimeError(f"no signed-note lock for {dialect}")


def _drop_signed_note_lock() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS notes_signed_no_update")
        op.execute("DROP TRIGGER IF EXISTS notes_signed_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS notes_signed_lock ON notes")
        op.execute("DROP FUNCTION IF EXISTS notes_signed_lock()")


def downgrade() -> None:
    _drop_signed_note_lock()
    drop_append_only("note_addenda")
    with op.batch_alter_table("note_addenda", schema=None) as batch_op:
        batch_op.drop_index("ix_note_addenda_note")

    op.drop_table("note_addenda")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_client_date")
        batch_op.drop_index("ix_notes_author_status")

    op.drop_table("notes")
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goals_plan_id"))
        batch_op.drop_index(batch_op.f("ix_goals_lineage_id"))

    op.drop_table("goals")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_client_id"))

    op.drop_table("referrals")
    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_of_care_client_version")

    op.drop_table("plans_of_care")
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagnoses_client_id"))

    op.drop_table("diagnoses")
    with op.batch_alter_table("chart_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chart_consents_client_id"))

    op.drop_table("chart_consents")
