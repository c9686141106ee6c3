"""Contract 1.2 C6: each action's assessment of a year (the bilan qualitatif)

Revision ID: e6a2c4b8d0f1
Revises: c5d1e3a7f9b2
Create Date: 2026-12-03 06:00:00

- `action_assessment`: one row per action and year, its points as one JSON list (written and
  read as a whole, never queried point by point). The foreign key has no ON DELETE CASCADE: an
  action with assessments cannot be deleted until they are.
- `change.entity_id` and `audit_event.entity_id` grow from 64 to 80 characters: an assessment is
  named in the feed and the audit log by `<action code>/<year>`, and a code may take 64.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6a2c4b8d0f1"
down_revision: str | Sequence[str] | None = "c5d1e3a7f9b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("year BETWEEN 2000 AND 2100", name=op.f("ck_action_assessment_year_in_range")),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], name=op.f("fk_action_assessment_action_id_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_assessment")),
        sa.UniqueConstraint("action_id", "year", name=op.f("uq_action_assessment_action_id_year")),
    )
    op.create_index(op.f("ix_action_assessment_action_id"), "action_assessment", ["action_id"])
    op.create_index(op.f("ix_action_assessment_updated_at"), "action_assessment", ["updated_at"])
    for table in ("change", "audit_event"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "entity_id", existing_type=sa.String(length=64), type_=sa.String(length=80), existing_nullable=False
            )


def downgrade() -> None:
    # Rows naming an assessment may hold ids longer than 64 characters: they go first.
    op.execute("DELETE FROM change WHERE kind = 'assessment'")
    op.execute("DELETE FROM audit_event WHERE entity = 'assessment' AND length(entity_id) > 64")
    for table in ("audit_event", "change"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(
                "entity_id", existing_type=sa.String(length=80), type_=sa.String(length=64), existing_nullable=False
            )
    op.drop_index(op.f("ix_action_assessment_updated_at"), table_name="action_assessment")
    op.drop_index(op.f("ix_action_assessment_action_id"), table_name="action_assessment")
    op.drop_table("action_assessment")
