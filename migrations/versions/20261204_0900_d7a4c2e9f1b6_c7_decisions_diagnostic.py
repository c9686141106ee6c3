"""Contract 1.2 C7: prescriptions that get an answer, and the diagnostic

Revision ID: d7a4c2e9f1b6
Revises: e6a2c4b8d0f1
Create Date: 2026-12-04 06:00:00

- `pathway` gains the operator's answer (`decision`, `decided_on`, `appointment_on`,
  `refusal_reason`, `refusal_comment`) and `ended_as` (refused, withdrawn, expired: how a
  prescription ended before any entry when not by a cancellation), with their CHECKs. Such a
  prescription keeps the day it ended in `cancelled_on`, so the seat counters' triggers (which
  count a row with `cancelled_on` as neither occupying nor reserving, c5d1e3a7f9b2), the partial
  indexes and every rule on ended prescriptions hold for the new statuses unchanged.
- SQLite adds CHECKs by rebuilding the table, which drops its triggers: they are created again
  from the seat counters' migration, the same SQL.
- `diagnostic`: one per pathway, a column per dimension.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.models

revision: str = "d7a4c2e9f1b6"
down_revision: str | Sequence[str] | None = "e6a2c4b8d0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL_REASONS = (
    "session_full",
    "not_eligible",
    "not_reachable",
    "did_not_come",
    "not_interested",
    "incompatible",
    "other_action",
    "duplicate",
    "other",
)

PATHWAY_CHECKS = {
    "decision_known": "decision IS NULL OR decision IN ('accepted', 'refused')",
    "decision_with_its_day": "(decision IS NULL) = (decided_on IS NULL)",
    "decided_after_prescription": "decided_on IS NULL OR decided_on >= prescribed_on",
    "refusal_reason_with_refusal": "(COALESCE(decision, '') = 'refused') = (refusal_reason IS NOT NULL)",
    "refusal_reason_known": "refusal_reason IS NULL OR refusal_reason IN ("
    + ", ".join(f"'{code}'" for code in REFUSAL_REASONS)
    + ")",
    "refusal_comment_with_refusal": "refusal_comment IS NULL OR COALESCE(decision, '') = 'refused'",
    "appointment_after_acceptance": (
        "appointment_on IS NULL OR (COALESCE(decision, '') = 'accepted' AND appointment_on >= decided_on)"
    ),
    "ended_as_known": "ended_as IS NULL OR ended_as IN ('refused', 'withdrawn', 'expired')",
    "ended_as_with_its_day": "ended_as IS NULL OR cancelled_on IS NOT NULL",
    "refused_ends_the_prescription": "(COALESCE(ended_as, '') = 'refused') = (COALESCE(decision, '') = 'refused')",
    "refused_on_its_decision_day": "COALESCE(ended_as, '') <> 'refused' OR cancelled_on = decided_on",
}
PATHWAY_TRIGGERS = ("pathway_seats_insert", "pathway_seats_delete", "pathway_seats_update")


def _recreate_sqlite_pathway_triggers() -> None:
    """The seat counters' triggers on `pathway`, which a SQLite table rebuild drops."""
    (path,) = Path(__file__).parent.glob("*_c5d1e3a7f9b2_*.py")
    spec = importlib.util.spec_from_file_location("seat_counters_migration", path)
    seat_counters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seat_counters)
    for name in PATHWAY_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in seat_counters.SQLITE_TRIGGERS:
        if " ON pathway " in statement:
            op.execute(statement)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "diagnostic",
        sa.Column("pathway_id", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("qualification", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("professional_experience", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("job_search_autonomy", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("mobility", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("interpersonal", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("numeracy", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("financial_situation", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("availability", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("oral_written_expression", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("punctuality", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("digital", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("housing", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("dress", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("health", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("social_ties", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("recommendations", sa.JSON(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("erased_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "availability IS NULL OR availability IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_availability_mark_known"),
        ),
        sa.CheckConstraint(
            "digital IS NULL OR digital IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_digital_mark_known"),
        ),
        sa.CheckConstraint(
            "dress IS NULL OR dress IN ('asset', 'barrier', 'neutral')", name=op.f("ck_diagnostic_dress_mark_known")
        ),
        sa.CheckConstraint(
            "financial_situation IS NULL OR financial_situation IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_financial_situation_mark_known"),
        ),
        sa.CheckConstraint(
            "health IS NULL OR health IN ('asset', 'barrier', 'neutral')", name=op.f("ck_diagnostic_health_mark_known")
        ),
        sa.CheckConstraint(
            "housing IS NULL OR housing IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_housing_mark_known"),
        ),
        sa.CheckConstraint(
            "interpersonal IS NULL OR interpersonal IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_interpersonal_mark_known"),
        ),
        sa.CheckConstraint(
            "job_search_autonomy IS NULL OR job_search_autonomy IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_job_search_autonomy_mark_known"),
        ),
        sa.CheckConstraint(
            "mobility IS NULL OR mobility IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_mobility_mark_known"),
        ),
        sa.CheckConstraint(
            "numeracy IS NULL OR numeracy IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_numeracy_mark_known"),
        ),
        sa.CheckConstraint(
            "oral_written_expression IS NULL OR oral_written_expression IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_oral_written_expression_mark_known"),
        ),
        sa.CheckConstraint(
            "professional_experience IS NULL OR professional_experience IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_professional_experience_mark_known"),
        ),
        sa.CheckConstraint(
            "punctuality IS NULL OR punctuality IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_punctuality_mark_known"),
        ),
        sa.CheckConstraint(
            "qualification IS NULL OR qualification IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_qualification_mark_known"),
        ),
        sa.CheckConstraint(
            "social_ties IS NULL OR social_ties IN ('asset', 'barrier', 'neutral')",
            name=op.f("ck_diagnostic_social_ties_mark_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_key_id"], ["api_key.id"], name=op.f("fk_diagnostic_created_by_key_id_api_key")
        ),
        sa.ForeignKeyConstraint(["pathway_id"], ["pathway.id"], name=op.f("fk_diagnostic_pathway_id_pathway")),
        sa.PrimaryKeyConstraint("pathway_id", name=op.f("pk_diagnostic")),
    )
    with op.batch_alter_table("diagnostic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diagnostic_updated_at"), ["updated_at"], unique=False)

    with op.batch_alter_table("pathway", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column("decided_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("appointment_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("refusal_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("refusal_comment", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column("ended_as", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        for name, condition in PATHWAY_CHECKS.items():
            batch_op.create_check_constraint(batch_op.f(f"ck_pathway_{name}"), condition)
    if sqlite:
        _recreate_sqlite_pathway_triggers()


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("pathway", schema=None) as batch_op:
        for name in PATHWAY_CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_pathway_{name}"), type_="check")
        for column in ("ended_as", "refusal_comment", "refusal_reason", "appointment_on", "decided_on", "decision"):
            batch_op.drop_column(column)
    if sqlite:
        _recreate_sqlite_pathway_triggers()
    with op.batch_alter_table("diagnostic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diagnostic_updated_at"))
    op.drop_table("diagnostic")
