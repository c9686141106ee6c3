"""Issue 33 (SPEC C11): the contrat d'engagement's weekly hours

Revision ID: a10c6f226777
Revises: 12e14b9885d0
Create Date: 2026-12-07 14:00:00

- `action.weekly_hours` (typical hours a week, 0–60) and `action.duration_weeks` (≥ 1);
  `convention_year.weekly_hours` (null: the action's); `pathway.weekly_hours` (the person's own;
  null: the convention year's, else the action's; app/pathways/weekly_hours.py).
- `beneficiary_engagement`: a person's lowered weekly target (personal data: never in the feed,
  webhooks or exports; retention deletes it with the person's pseudonym).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.models import UTCDateTime

revision: str = "a10c6f226777"
down_revision: str | Sequence[str] | None = "12e14b9885d0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOURS = "weekly_hours IS NULL OR (weekly_hours >= 0 AND weekly_hours <= 60)"


def _add_hours_column(table: str) -> None:
    # ALTER TABLE … ADD COLUMN with its CHECK, on both databases: no SQLite table rebuild, which
    # would drop the seat counters' triggers on `pathway`.
    op.execute(
        f"ALTER TABLE {table} ADD COLUMN weekly_hours FLOAT CONSTRAINT ck_{table}_weekly_hours_in_week CHECK ({HOURS})"
    )


def upgrade() -> None:
    _add_hours_column("action")
    op.execute(
        "ALTER TABLE action ADD COLUMN duration_weeks INTEGER CONSTRAINT ck_action_duration_weeks_positive "
        "CHECK (duration_weeks IS NULL OR duration_weeks >= 1)"
    )
    _add_hours_column("convention_year")
    _add_hours_column("pathway")
    op.create_table(
        "beneficiary_engagement",
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("weekly_hours_target", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"], ["beneficiary.id"], name=op.f("fk_beneficiary_engagement_beneficiary_id_beneficiary")
        ),
        sa.PrimaryKeyConstraint("beneficiary_id", name=op.f("pk_beneficiary_engagement")),
        sa.CheckConstraint(
            "weekly_hours_target >= 0 AND weekly_hours_target <= 35",
            name=op.f("ck_beneficiary_engagement_target_in_range"),
        ),
        sa.CheckConstraint(
            "reason IN ('health_or_disability', 'family_situation', 'other')",
            name=op.f("ck_beneficiary_engagement_reason_known"),
        ),
    )
    op.create_index(
        op.f("ix_beneficiary_engagement_updated_at"), "beneficiary_engagement", ["updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_beneficiary_engagement_updated_at"), table_name="beneficiary_engagement")
    op.drop_table("beneficiary_engagement")
    for table, column in (
        ("pathway", "weekly_hours"),
        ("convention_year", "weekly_hours"),
        ("action", "duration_weeks"),
        ("action", "weekly_hours"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
