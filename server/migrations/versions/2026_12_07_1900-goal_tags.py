"""goal tags: one tag label may count toward several goals of a client

Revision ID: 5c1e7a9b3d20
Revises: 1268fed466fd
Create Date: 2026-12-07 19:00:00

The unique key of `annotation_tags` was (client_id, label); it becomes (client_id, goal_id,
label), so "independent" can be a tag of the grasp goal and of the buttons goal. The naming
convention names both after their first column, so the name stays.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5c1e7a9b3d20"
down_revision: str | None = "1268fed466fd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_annotation_tags_client_id"


def upgrade() -> None:
    with op.batch_alter_table("annotation_tags", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
        batch_op.create_unique_constraint(NAME, ["client_id", "goal_id", "label"])


def downgrade() -> None:
    # Rows that only the new key allows (one label on several goals) keep their first goal.
    op.execute(
        "DELETE FROM annotation_tags WHERE id NOT IN (SELECT MIN(id) FROM annotation_tags"
        " GROUP BY client_id, label)"
    )
    with op.batch_alter_table("annotation_tags", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
        batch_op.create_unique_constraint(NAME, ["client_id", "label"])
