"""Contract 1.1 C1: characteristics per pathway, CHECK constraints, the text fold function

Revision ID: 5c1e0a7d9b21
Revises: 77bff2e66566
Create Date: 2026-11-30 16:10:00

- A person's characteristics move from the shared beneficiary row to each pathway (copied from
  today's values), so that no operator's write can change what another one recorded.
- The row-level rules on input become CHECK constraints.
- `pdi_fold(text)`, the text normalisation of app/core/text.py, as a SQL function on PostgreSQL
  (SQLite gets it from the application on each connection).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e0a7d9b21"
down_revision: str | Sequence[str] | None = "77bff2e66566"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of app/core/text.py's FOLD_FROM / FOLD_TO as they were at this revision.
FOLD_FROM = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçè"
    "éêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬ"
    "ĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷ"
    "ŸŹźŻżŽž"
)
FOLD_TO = (
    "abcdefghijklmnopqrstuvwxyzaaaaaaceeeeiiiinooooouuuuyaaaaaace"
    "eeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggghhiiiii"
    "iiiijjkkllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyy"
    "yzzzzzz"
)

CHARACTERISTICS = ("birth_year", "sex", "insee_code", "territory", "household", "self_employed")


def characteristic_columns() -> list[sa.Column]:
    return [
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("insee_code", sa.String(length=5), nullable=True),
        sa.Column("territory", sa.String(length=8), nullable=True),
        sa.Column("household", sa.String(length=32), nullable=True),
        sa.Column("self_employed", sa.Boolean(), nullable=True),
    ]


# (table, constraint name without its ck_<table>_ prefix, condition)
CHECKS = [
    ("pathway", "entry_after_prescription", "entered_on IS NULL OR entered_on >= prescribed_on"),
    ("pathway", "exit_after_entry", "exited_on IS NULL OR (entered_on IS NOT NULL AND exited_on >= entered_on)"),
    ("pathway", "exit_reason_with_exit", "(exited_on IS NULL) = (exit_reason IS NULL)"),
    (
        "pathway",
        "cancelled_before_entry",
        "cancelled_on IS NULL OR (entered_on IS NULL AND cancelled_on >= prescribed_on)",
    ),
    (
        "pathway",
        "planned_end_after_start",
        "planned_end_on IS NULL OR planned_end_on >= COALESCE(entered_on, prescribed_on)",
    ),
    ("pathway", "hours_not_negative", "hours IS NULL OR hours >= 0"),
    ("pathway", "birth_year_plausible", "birth_year IS NULL OR birth_year >= 1900"),
    ("pathway", "sex_known", "sex IS NULL OR sex IN ('F', 'M', 'X')"),
    ("pathway", "territory_known", "territory IS NULL OR territory IN ('urban', 'rural')"),
    (
        "pathway",
        "household_known",
        "household IS NULL OR household IN "
        "('single_no_child', 'single_with_children', 'couple_no_child', 'couple_with_children')",
    ),
    ("activity_record", "quantity_not_negative", "quantity >= 0"),
    ("convention", "dates_in_order", "start_on <= end_on"),
    ("convention", "status_known", "status IN ('draft', 'active', 'ended', 'cancelled')"),
    ("convention_year", "places_not_negative", "places IS NULL OR places >= 0"),
    ("convention_year", "months_per_place_in_year", "months_per_place BETWEEN 1 AND 12"),
    ("convention_year", "budget_not_negative", "budget IS NULL OR budget >= 0"),
    (
        "convention_year",
        "fse_within_budget",
        "fse_amount IS NULL OR (fse_amount >= 0 AND budget IS NOT NULL AND fse_amount <= budget)",
    ),
    ("convention_year", "hours_threshold_not_negative", "hours_threshold IS NULL OR hours_threshold >= 0"),
    ("convention_year", "budget_kind_known", "budget_kind IN ('forecast', 'agreed')"),
    ("action", "number_positive", "number >= 1"),
    (
        "action",
        "durations_in_order",
        "min_duration_months IS NULL OR max_duration_months IS NULL OR min_duration_months <= max_duration_months",
    ),
    ("site", "territory_known", "territory IS NULL OR territory IN ('urban', 'rural')"),
    (
        "site",
        "coordinates_valid",
        "(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL OR latitude BETWEEN -90 AND 90)"
        " AND (longitude IS NULL OR longitude BETWEEN -180 AND 180)",
    ),
]


def _tables_with_checks() -> list[str]:
    return list(dict.fromkeys(table for table, _name, _condition in CHECKS))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION pdi_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
            f"AS $$ SELECT translate($1, '{FOLD_FROM}', '{FOLD_TO}') $$"
        )

    with op.batch_alter_table("pathway") as batch_op:
        for column in characteristic_columns():
            batch_op.add_column(column)
    assignments = ", ".join(f"{name} = beneficiary.{name}" for name in CHARACTERISTICS)
    op.execute(f"UPDATE pathway SET {assignments} FROM beneficiary WHERE beneficiary.id = pathway.beneficiary_id")
    with op.batch_alter_table("beneficiary") as batch_op:
        batch_op.drop_index("ix_beneficiary_territory")
        for name in CHARACTERISTICS:
            batch_op.drop_column(name)

    for table in _tables_with_checks():
        with op.batch_alter_table(table) as batch_op:
            for check_table, name, condition in CHECKS:
                if check_table == table:
                    batch_op.create_check_constraint(op.f(f"ck_{table}_{name}"), condition)


def downgrade() -> None:
    for table in reversed(_tables_with_checks()):
        with op.batch_alter_table(table) as batch_op:
            for check_table, name, _condition in CHECKS:
                if check_table == table:
                    batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")

    with op.batch_alter_table("beneficiary") as batch_op:
        for column in characteristic_columns():
            batch_op.add_column(column)
        batch_op.create_index("ix_beneficiary_territory", ["territory"], unique=False)
    # The person gets the characteristics of their latest pathway: the schema before this
    # revision kept one set per person.
    assignments = ", ".join(
        f"{name} = (SELECT p.{name} FROM pathway p WHERE p.beneficiary_id = beneficiary.id ORDER BY p.id DESC LIMIT 1)"
        for name in CHARACTERISTICS
    )
    op.execute(f"UPDATE beneficiary SET {assignments}")
    with op.batch_alter_table("pathway") as batch_op:
        for name in CHARACTERISTICS:
            batch_op.drop_column(name)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pdi_fold(text)")
