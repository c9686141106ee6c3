"""Issue 21: availability on any day without re-reading history (the seats' changes by day)

Revision ID: f3b7d1a9c5e2
Revises: e9c4a2b6d8f1
Create Date: 2026-12-07 09:00:00

- `convention_seat_day`: per convention and day, how its occupied and reserved seats change
  that day (app/seats/models.py). Availability for a past day read the counters now and then
  every pathway changed since that day (190,000 rows at `--scale 100` for 2020-06-15); the
  counts on a day are now the sum of the convention's changes up to it.
- The same triggers keep both. On PostgreSQL the three statement triggers' functions are
  replaced by ones that also add the statement's changes by day, after the counters, which they
  lock in convention order as before (one lock order; the counters of a convention whose days
  moved are locked, and their `updated_at` moved, too). On SQLite, row triggers of their own.
  What a pathway takes on a day is app/seats/states.py, the counters' definition too, frozen
  below as it rendered then.
- `ix_pathway_open_convention_id_planned_end_on` (the open pathways) gives way to one over every
  pathway: the next release on a past day is among pathways closed since.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "f3b7d1a9c5e2"
down_revision: str | Sequence[str] | None = "e9c4a2b6d8f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "exited_on IS NULL AND cancelled_on IS NULL"
PATHWAY_COLUMNS = ("convention_id", "prescribed_on", "entered_on", "exited_on", "cancelled_on", "waitlisted")

# app/seats/states.py as it rendered when this migration was written, frozen here, since what a
# migration ran must not change with the code after it: a change of states.py is a new migration
# that replaces the triggers (tests/test_migrations.py compares these with states.py).
# What a pathway row (`{row}`: a table alias) adds to its convention's counters now (now_counts_sql).
NOW_COUNTS_SQL = {
    "occupied": "CASE WHEN ((NOT ({row}.entered_on IS NULL)) AND ({row}.cancelled_on IS NULL))"
    " AND ({row}.exited_on IS NULL) THEN 1 ELSE 0 END",
    "reserved": "CASE WHEN (NOT ({row}.waitlisted)) AND (COALESCE({row}.entered_on, {row}.cancelled_on) IS NULL)"
    " THEN 1 ELSE 0 END",
    "waitlisted": "CASE WHEN {row}.waitlisted THEN 1 ELSE 0 END",
}
# The changes of the counts a pathway row `r` brings (day_changes_sql): the day, the changes of
# occupied and reserved for a row as it is (negated for a row as it was), and when it brings them.
_ENTERED = "(NOT (r.entered_on IS NULL)) AND (r.cancelled_on IS NULL)"
_RESERVES = "NOT (r.waitlisted)"
_LEFT = "COALESCE(r.entered_on, r.cancelled_on)"
DAY_CHANGES = {
    dialect: (
        ("r.entered_on", 1, 0, _ENTERED),
        (after_exit, -1, 0, f"({_ENTERED}) AND (NOT (r.exited_on IS NULL))"),
        ("r.prescribed_on", 0, 1, _RESERVES),
        (_LEFT, 0, -1, f"({_RESERVES}) AND (NOT ({_LEFT} IS NULL))"),
    )
    for dialect, after_exit in (("postgresql", "(r.exited_on + 1)"), ("sqlite", "date(r.exited_on, '+1 day')"))
}


def now_counts_sql(row: str) -> dict[str, str]:
    return {name: sql.replace("{row}", row) for name, sql in NOW_COUNTS_SQL.items()}


def day_changes_sql(rows: str, sign: int, dialect: str) -> str:
    """SELECT convention_id, day, occupied, reserved: the changes of each row of `rows` (a table,
    a transition table or a one-row SELECT), times `sign`."""
    return " UNION ALL ".join(
        f"SELECT r.convention_id, {day} AS day, {occupied * sign} AS occupied, {reserved * sign} AS reserved "
        f"FROM {rows} AS r WHERE {condition}"
        for day, occupied, reserved, condition in DAY_CHANGES[dialect]
    )


def _seat_counters_migration():
    (path,) = Path(__file__).parent.glob("*_c5d1e3a7f9b2_*.py")
    spec = importlib.util.spec_from_file_location("seat_counters_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _by_day(changes: str) -> str:
    """The changes summed per convention and day, those that moved, in lock order."""
    return (
        "SELECT convention_id, day, sum(occupied) AS occupied, sum(reserved) AS reserved "
        f"FROM ({changes}) AS changes WHERE true GROUP BY convention_id, day "
        "HAVING sum(occupied) <> 0 OR sum(reserved) <> 0 ORDER BY convention_id, day"
    )


UPSERT = """INSERT INTO convention_seat_day (convention_id, day, occupied_delta, reserved_delta)
    {by_day}
    ON CONFLICT (convention_id, day) DO UPDATE
    SET occupied_delta = convention_seat_day.occupied_delta + excluded.occupied_delta,
        reserved_delta = convention_seat_day.reserved_delta + excluded.reserved_delta"""


# --- PostgreSQL: the counters' statement triggers, now with the changes by day -------------------


def _postgresql_function(name: str, *, new_rows: bool, old_rows: bool) -> str:
    counted, by_day = [], []
    if new_rows:
        counts = now_counts_sql("n")
        counted.append(
            f"SELECT n.convention_id, {counts['occupied']} AS occupied, {counts['reserved']} AS reserved, "
            f"{counts['waitlisted']} AS waitlisted, n.updated_at FROM new_rows AS n"
        )
        by_day.append(day_changes_sql("new_rows", +1, "postgresql"))
    if old_rows:
        counts = now_counts_sql("o")
        counted.append(
            f"SELECT o.convention_id, -({counts['occupied']}) AS occupied, -({counts['reserved']}) AS reserved, "
            f"-({counts['waitlisted']}) AS waitlisted, NULL::timestamptz AS updated_at FROM old_rows AS o"
        )
        by_day.append(day_changes_sql("old_rows", -1, "postgresql"))
    changes = " UNION ALL ".join(by_day)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    delta record;
BEGIN
    -- The counters first, in convention order (the lock order of every pathway write), for
    -- every convention whose counts or days moved; then the days, in the same order.
    FOR delta IN
        WITH counted AS (
            SELECT convention_id, sum(occupied) AS occupied, sum(reserved) AS reserved,
                   sum(waitlisted) AS waitlisted, max(updated_at) AS updated_at
            FROM ({" UNION ALL ".join(counted)}) AS changed
            GROUP BY convention_id
        ), by_day AS ({_by_day(changes)})
        SELECT * FROM counted
        WHERE occupied <> 0 OR reserved <> 0 OR waitlisted <> 0
           OR convention_id IN (SELECT convention_id FROM by_day)
        ORDER BY convention_id
    LOOP
        UPDATE convention_seats
        SET occupied = occupied + delta.occupied,
            reserved = reserved + delta.reserved,
            waitlisted = waitlisted + delta.waitlisted,
            updated_at = GREATEST(updated_at, delta.updated_at)
        WHERE convention_id = delta.convention_id;
    END LOOP;
    {UPSERT.format(by_day=_by_day(changes))};
    RETURN NULL;
END $$;
"""


POSTGRESQL_FUNCTIONS = (
    _postgresql_function("pathway_seats_insert", new_rows=True, old_rows=False)
    + _postgresql_function("pathway_seats_update", new_rows=True, old_rows=True)
    + _postgresql_function("pathway_seats_delete", new_rows=False, old_rows=True)
)


# --- SQLite: row triggers of their own (writers are serialised: no lock order to keep) ----------


def _sqlite_row(row: str) -> str:
    return "(SELECT " + ", ".join(f"{row}.{column} AS {column}" for column in PATHWAY_COLUMNS) + ")"


def _sqlite_touch(row: str) -> str:
    return f"""UPDATE convention_seats SET updated_at = max(coalesce(updated_at, ''), {row}.updated_at)
    WHERE convention_id = {row}.convention_id;"""


def _sqlite_moved() -> str:
    return " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in PATHWAY_COLUMNS)


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER pathway_seat_day_insert AFTER INSERT ON pathway BEGIN
    {UPSERT.format(by_day=_by_day(day_changes_sql(_sqlite_row("NEW"), +1, "sqlite")))};
END""",
    f"""CREATE TRIGGER pathway_seat_day_delete AFTER DELETE ON pathway BEGIN
    {UPSERT.format(by_day=_by_day(day_changes_sql(_sqlite_row("OLD"), -1, "sqlite")))};
END""",
    f"""CREATE TRIGGER pathway_seat_day_update AFTER UPDATE ON pathway WHEN {_sqlite_moved()} BEGIN
    {
        UPSERT.format(
            by_day=_by_day(
                day_changes_sql(_sqlite_row("OLD"), -1, "sqlite")
                + " UNION ALL "
                + day_changes_sql(_sqlite_row("NEW"), +1, "sqlite")
            )
        )
    };
    {_sqlite_touch("NEW")}
END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in ("pathway_seat_day_update", "pathway_seat_day_delete", "pathway_seat_day_insert")
]


def _backfill(dialect: str) -> str:
    return "INSERT INTO convention_seat_day (convention_id, day, occupied_delta, reserved_delta) " + _by_day(
        day_changes_sql("pathway", +1, dialect)
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "convention_seat_day",
        sa.Column("convention_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("occupied_delta", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved_delta", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["convention_id"],
            ["convention.id"],
            name=op.f("fk_convention_seat_day_convention_id_convention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("convention_id", "day", name=op.f("pk_convention_seat_day")),
    )
    if dialect == "sqlite":
        # Writers wait for the schema change: the fill and the triggers see the same rows.
        op.execute(_backfill(dialect))
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        # The counters' row locks keep writers out between the fill and the new functions.
        op.execute("LOCK TABLE pathway IN SHARE ROW EXCLUSIVE MODE")
        op.execute(_backfill(dialect))
        op.execute(POSTGRESQL_FUNCTIONS)
    # Indexes without a table rebuild (a SQLite rebuild would drop the triggers).
    op.drop_index(
        "ix_pathway_open_convention_id_planned_end_on",
        table_name="pathway",
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_pathway_convention_id_planned_end_on", "pathway", ["convention_id", "planned_end_on"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_pathway_convention_id_planned_end_on", table_name="pathway")
    op.create_index(
        "ix_pathway_open_convention_id_planned_end_on",
        "pathway",
        ["convention_id", "planned_end_on"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    if dialect == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    else:
        counters = _seat_counters_migration()
        for name, new_rows, old_rows in (
            ("pathway_seats_insert", True, False),
            ("pathway_seats_update", True, True),
            ("pathway_seats_delete", False, True),
        ):
            function = counters._postgresql_count_function(name, new_rows=new_rows, old_rows=old_rows)
            op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.drop_table("convention_seat_day")
