"""session hooks: recordings, spans, files, consents; annotations, snapshots, tag lists

Revision ID: b8d41f6c2e97
Revises: 7f3c2a91d0b4
Create Date: 2026-11-27 16:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.db

revision: str = "b8d41f6c2e97"
# The scheduling migration also revises 7f3c2a91d0b4: the lead chains the two when merging.
down_revision: str | None = "83ca4e72247d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        _fk("recordings", "session_id", "video_sessions.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_session_id"), ["session_id"], unique=False)

    op.create_table(
        "recording_spans",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", server.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("offset_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("offset_end_ms", sa.BigInteger(), nullable=True),
        _fk("recording_spans", "recording_id", "recordings.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_spans")),
    )
    with op.batch_alter_table("recording_spans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_spans_recording", ["recording_id", "started_at"], unique=False
        )

    op.create_table(
        "recording_files",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("storage_path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("started_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", server.db.UTCDateTime(timezone=True), nullable=True),
        _fk("recording_files", "recording_id", "recordings.id", "RESTRICT"),
        _fk("recording_files", "session_id", "video_sessions.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_files")),
    )
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_files_recording", ["recording_id", "participant_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recording_files_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "recording_consents",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("user_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("link_id", sa.String(length=64), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_version", sa.String(length=40), nullable=False),
        sa.Column("decided_at", server.db.UTCDateTime(timezone=True), nullable=False),
        _fk("recording_consents", "recording_id", "recordings.id", "RESTRICT"),
        _fk("recording_consents", "session_id", "video_sessions.id", "RESTRICT"),
        _fk("recording_consents", "user_id", "users.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_consents")),
    )
    with op.batch_alter_table("recording_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recording_consents_recording", ["recording_id", "decided_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recording_consents_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "annotations",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("session_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("author_participant_id", sa.String(length=64), nullable=False),
        sa.Column("author_role", sa.String(length=10), nullable=False),
        sa.Column("author_user_id", server.db.UUIDString(length=36), nullable=True),
        sa.Column("author_link_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("tag", sa.String(length=40), nullable=True),
        sa.Column("goal_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("target_participant_id", sa.String(length=64), nullable=True),
        sa.Column("session_ms", sa.BigInteger(), nullable=False),
        sa.Column("recording_id", sa.String(length=64), nullable=True),
        sa.Column("recording_ms", sa.BigInteger(), nullable=True),
        sa.Column("client_ref", sa.String(length=64), nullable=True),
        sa.Column("created_at", server.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("saved_at", server.db.UTCDateTime(timezone=True), nullable=False),
        _fk("annotations", "author_user_id", "users.id", "RESTRICT"),
        _fk("annotations", "recording_id", "recordings.id", "RESTRICT"),
        _fk("annotations", "session_id", "video_sessions.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
        sa.UniqueConstraint(
            "session_id",
            "author_participant_id",
            "client_ref",
            name=op.f("uq_annotations_session_id"),
        ),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index("ix_annotations_session", ["session_id", "session_ms"], unique=False)

    op.create_table(
        "annotation_snapshots",
        sa.Column("annotation_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        _fk("annotation_snapshots", "annotation_id", "annotations.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("annotation_id", name=op.f("pk_annotation_snapshots")),
    )

    op.create_table(
        "annotation_tags",
        sa.Column("id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("client_id", server.db.UUIDString(length=36), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("goal_id", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("annotation_tags", "client_id", "clients.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_tags")),
        sa.UniqueConstraint("client_id", "label", name=op.f("uq_annotation_tags_client_id")),
    )
    with op.batch_alter_table("annotation_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_annotation_tags_client_id"), ["client_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("annotation_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotation_tags_client_id"))
    op.drop_table("annotation_tags")
    op.drop_table("annotation_snapshots")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index("ix_annotations_session")
    op.drop_table("annotations")
    with op.batch_alter_table("recording_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_consents_session_id"))
        batch_op.drop_index("ix_recording_consents_recording")
    op.drop_table("recording_consents")
    with op.batch_alter_table("recording_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_files_session_id"))
        batch_op.drop_index("ix_recording_files_recording")
    op.drop_table("recording_files")
    with op.batch_alter_table("recording_spans", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_spans_recording")
    op.drop_table("recording_spans")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_session_id"))
    op.drop_table("recordings")
