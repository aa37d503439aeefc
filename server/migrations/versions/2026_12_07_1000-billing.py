"""billing: payers, fees, coverage, authorizations, charges locked once confirmed; procedures,
the client's place and the hash format on notes; codes on plans of care; client addresses

Revision ID: 2a443ff18a93
Revises: 3d9a6f0c2b71
Create Date: 2026-12-07 10:00:00

The locks are written out here (not imported from the models) so that this migration keeps
meaning what it meant when it ran. The signed-note lock is re-created with the new columns:
a lock listing the columns it guards would otherwise leave the new ones open.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "2a443ff18a93"
down_revision: str | None = "3d9a6f0c2b71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payers",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("payer_code", sa.String(length=20), nullable=False),
        sa.Column("telehealth_modifier", sa.String(length=2), nullable=False),
        sa.Column("pos_rule", sa.String(length=20), nullable=False),
        sa.Column("rate_rule", sa.String(length=10), nullable=False),
        sa.Column("claim_filing_code", sa.String(length=2), nullable=False),
        sa.Column("applies_kx", sa.Boolean(), nullable=False),
        sa.Column("requires_authorization", sa.Boolean(), nullable=False),
        sa.Column("archived_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_payers_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payers")),
    )
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payers_therapist_id"), ["therapist_id"], unique=False)

    op.create_table(
        "practice_profiles",
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("practice_name", sa.String(length=120), nullable=False),
        sa.Column("billing_npi", sa.String(length=10), nullable=False),
        sa.Column("rendering_npi", sa.String(length=10), nullable=False),
        sa.Column("tax_id", sa.String(length=9), nullable=False),
        sa.Column("taxonomy_code", sa.String(length=10), nullable=False),
        sa.Column("address_line", sa.String(length=120), nullable=False),
        sa.Column("city", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("submitter_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_id", sa.String(length=15), nullable=False),
        sa.Column("receiver_name", sa.String(length=60), nullable=False),
        sa.Column("kx_threshold_cents", sa.Integer(), nullable=False),
        sa.Column("late_entry_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_practice_profiles_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", name=op.f("pk_practice_profiles")),
    )
    op.create_table(
        "authorizations",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("payer_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("visits_allowed", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_authorizations_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["payers.id"],
            name=op.f("fk_authorizations_payer_id_payers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorizations")),
    )
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_authorizations_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "client_coverages",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("payer_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=30), nullable=False),
        sa.Column("group_number", sa.String(length=30), nullable=False),
        sa.Column("relationship_to_subscriber", sa.String(length=10), nullable=False),
        sa.Column("subscriber_first_name", sa.String(length=60), nullable=False),
        sa.Column("subscriber_last_name", sa.String(length=60), nullable=False),
        sa.Column("subscriber_dob", sa.Date(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_coverages_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["payers.id"],
            name=op.f("fk_client_coverages_payer_id_payers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_coverages")),
    )
    with op.batch_alter_table("client_coverages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_coverages_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "fee_schedule",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("payer_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("updated_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["payers.id"],
            name=op.f("fk_fee_schedule_payer_id_payers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_fee_schedule_therapist_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_schedule")),
    )
    with op.batch_alter_table("fee_schedule", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fee_schedule_therapist_id"), ["therapist_id"], unique=False
        )

    op.create_table(
        "charges",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("therapist_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("note_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("payer_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("member_id", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reverses_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("replaces_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("correction_reason", sa.String(length=300), nullable=False),
        sa.Column("claim_number", sa.String(length=20), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("place_of_service", sa.String(length=2), nullable=False),
        sa.Column("discipline", sa.String(length=3), nullable=True),
        sa.Column("diagnoses", sa.JSON(), nullable=False),
        sa.Column("timed_minutes", sa.Integer(), nullable=False),
        sa.Column("treatment_minutes", sa.Integer(), nullable=True),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", server.db.UUIDString(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_charges_client_id_clients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_charges_confirmed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_charges_note_id_notes"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["payers.id"],
            name=op.f("fk_charges_payer_id_payers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["charges.id"],
            name=op.f("fk_charges_replaces_id_charges"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["charges.id"],
            name=op.f("fk_charges_reverses_id_charges"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["users.id"],
            name=op.f("fk_charges_therapist_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint("claim_number", name=op.f("uq_charges_claim_number")),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_client_date", ["client_id", "service_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_charges_note_id"), ["note_id"], unique=False)
        batch_op.create_index(
            "ix_charges_therapist_date", ["therapist_id", "service_date"], unique=False
        )

    op.create_table(
        "charge_lines",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("charge_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("unit_fee_cents", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("diagnosis_pointers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"],
            ["charges.id"],
            name=op.f("fk_charge_lines_charge_id_charges"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_lines")),
        sa.UniqueConstraint("charge_id", "line_number", name=op.f("uq_charge_lines_charge_id")),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address_line", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("city", sa.String(length=60), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("postal_code", sa.String(length=10), server_default="", nullable=False)
        )

    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_at_home", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("procedures", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column(
                "content_format",
                sa.String(length=20),
                server_default="tandem-note-v1",
                nullable=False,
            )
        )

    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("procedure_codes", sa.JSON(), server_default="[]", nullable=False)
        )

    _drop_note_lock()
    _create_note_lock(NOTE_COLUMNS_V1 + NOTE_COLUMNS_ADDED)
    _create_charge_locks()


def downgrade() -> None:
    _drop_charge_locks()
    _drop_note_lock()
    with op.batch_alter_table("plans_of_care", schema=None) as batch_op:
        batch_op.drop_column("procedure_codes")

    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("content_format")
        batch_op.drop_column("procedures")
        batch_op.drop_column("client_at_home")

    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("postal_code")
        batch_op.drop_column("city")
        batch_op.drop_column("address_line")

    op.drop_table("charge_lines")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_therapist_date")
        batch_op.drop_index(batch_op.f("ix_charges_note_id"))
        batch_op.drop_index("ix_charges_client_date")

    op.drop_table("charges")
    with op.batch_alter_table("fee_schedule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fee_schedule_therapist_id"))

    op.drop_table("fee_schedule")
    with op.batch_alter_table("client_coverages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_coverages_client_id"))

    op.drop_table("client_coverages")
    with op.batch_alter_table("authorizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authorizations_client_id"))

    op.drop_table("authorizations")
    op.drop_table("practice_profiles")
    with op.batch_alter_table("payers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payers_therapist_id"))

    op.drop_table("payers")
    # After the columns are gone (SQLite rebuilds the table to drop a column, triggers and all).
    _drop_note_lock()
    _create_note_lock(NOTE_COLUMNS_V1)


# The signed-note lock of the documentation migration guarded these columns (all but
# appointment_id, which goes NULL when its schedule row is deleted).
NOTE_COLUMNS_V1 = (
    "id", "client_id", "author_id", "video_session_id", "plan_id", "note_type", "status",
    "service_date", "mode", "time_in", "time_out", "modality", "client_location_state",
    "present", "telehealth_consent", "subjective", "objective", "assessment", "plan",
    "measures", "session_facts", "created_at", "updated_at", "signed_at", "late_entry",
    "content_hash",
)  # fmt: skip
NOTE_COLUMNS_ADDED = ("client_at_home", "procedures", "content_format")
NOTE_JSON = ("measures", "session_facts", "procedures")
NOTE_MESSAGE = "notes: a signed note cannot be changed or deleted; add an addendum"
CHARGE_MESSAGE = "charges: a confirmed charge cannot be changed or deleted; correct it"


def _create_note_lock(columns: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        op.execute(
            "CREATE TRIGGER notes_signed_no_update BEFORE UPDATE ON notes "
            f"WHEN OLD.status = 'signed' AND ({changed}) "
            f"BEGIN SELECT RAISE(ABORT, '{NOTE_MESSAGE}'); END"
        )
        op.execute(
            "CREATE TRIGGER notes_signed_no_delete BEFORE DELETE ON notes "
            f"WHEN OLD.status = 'signed' BEGIN SELECT RAISE(ABORT, '{NOTE_MESSAGE}'); END"
        )
    elif dialect == "postgresql":
        # json has no equality operator: compare its text form.
        changed = " OR ".join(
            f"NEW.{c}::text IS DISTINCT FROM OLD.{c}::text"
            if c in NOTE_JSON
            else f"NEW.{c} IS DISTINCT FROM OLD.{c}"
            for c in columns
        )
        op.execute(
            "CREATE FUNCTION notes_signed_lock() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF OLD.status = 'signed' THEN "
            f"IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{NOTE_MESSAGE}'; END IF; "
            f"IF {changed} THEN RAISE EXCEPTION '{NOTE_MESSAGE}'; END IF; "
            "END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER notes_signed_lock BEFORE UPDATE OR DELETE ON notes "
            "FOR EACH ROW EXECUTE FUNCTION notes_signed_lock()"
        )
    else:  # pragma: no cover - only the two supported backends exist
        raise RuntimeError(f"no signed-note lock for {dialect}")


def _drop_note_lock() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS notes_signed_no_update")
        op.execute("DROP TRIGGER IF EXISTS notes_signed_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS notes_signed_lock ON notes")
        op.execute("DROP FUNCTION IF EXISTS notes_signed_lock()")


def _create_charge_locks() -> None:
    """A confirmed charge refuses UPDATE and DELETE (every column: none goes NULL by cascade);
    its lines refuse UPDATE, DELETE and new lines. Proposed charges stay editable."""
    dialect = op.get_bind().dialect.name
    parent = "(SELECT status FROM charges WHERE id = {ref}.charge_id) = 'confirmed'"
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER charges_confirmed_no_{verb.lower()} BEFORE {verb} ON charges "
                f"WHEN OLD.status = 'confirmed' "
                f"BEGIN SELECT RAISE(ABORT, '{CHARGE_MESSAGE}'); END"
            )
        for verb, ref in (("UPDATE", "OLD"), ("DELETE", "OLD"), ("INSERT", "NEW")):
            op.execute(
                f"CREATE TRIGGER charge_lines_confirmed_no_{verb.lower()} BEFORE {verb} "
                f"ON charge_lines WHEN {parent.format(ref=ref)} "
                f"BEGIN SELECT RAISE(ABORT, '{CHARGE_MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION charges_confirmed_lock() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF OLD.status = 'confirmed' THEN RAISE EXCEPTION '{CHARGE_MESSAGE}'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER charges_confirmed_lock BEFORE UPDATE OR DELETE ON charges "
            "FOR EACH ROW EXECUTE FUNCTION charges_confirmed_lock()"
        )
        op.execute(
            "CREATE FUNCTION charge_lines_confirmed_lock() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN "
            f"IF TG_OP <> 'INSERT' AND {parent.format(ref='OLD')} "
            f"THEN RAISE EXCEPTION '{CHARGE_MESSAGE}'; END IF; "
            f"IF TG_OP <> 'DELETE' AND {parent.format(ref='NEW')} "
            f"THEN RAISE EXCEPTION '{CHARGE_MESSAGE}'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER charge_lines_confirmed_lock BEFORE INSERT OR UPDATE OR DELETE "
            "ON charge_lines FOR EACH ROW EXECUTE FUNCTION charge_lines_confirmed_lock()"
        )
    else:  # pragma: no cover - only the two supported backends exist
        raise RuntimeError(f"no charge lock for {dialect}")


def _drop_charge_locks() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("charges_confirmed_no_update", "charges_confirmed_no_delete",
                     "charge_lines_confirmed_no_update", "charge_lines_confirmed_no_delete",
                     "charge_lines_confirmed_no_insert"):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS charge_lines_confirmed_lock ON charge_lines")
        op.execute("DROP FUNCTION IF EXISTS charge_lines_confirmed_lock()")
        op.execute("DROP TRIGGER IF EXISTS charges_confirmed_lock ON charges")
        op.execute("DROP FUNCTION IF EXISTS charges_confirmed_lock()")
