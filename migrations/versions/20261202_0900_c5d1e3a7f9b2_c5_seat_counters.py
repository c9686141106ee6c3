"""Contract 1.1 C5: seat counters per convention, kept by triggers, for availability at any scale

Revision ID: c5d1e3a7f9b2
Revises: b8d2e4f6a1c3
Create Date: 2026-12-02 10:00:00

- `convention_seats`: per convention, the seats its open pathways take now (occupied, reserved,
  waitlisted) and when they last changed. Availability read them by counting every open
  pathway of every convention of the page: 230,700 rows at `--scale 100`, on every request.
- Triggers keep them in the same transaction as the writes, whatever writes (the API, bulk
  statements, COPY): on PostgreSQL one per statement, which adds the differences of all its rows
  per convention in convention order (no deadlock between two batches); on SQLite one per row.
  A trigger on `convention` gives each new convention its row.
- `ix_pathway_open_convention_id` gives way to two narrower indexes: the open pathways by planned
  end (the next release of a convention is one probe) and the pending prescriptions by date.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5d1e3a7f9b2"
down_revision: str | Sequence[str] | None = "b8d2e4f6a1c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "exited_on IS NULL AND cancelled_on IS NULL"
PENDING = "entered_on IS NULL AND exited_on IS NULL AND cancelled_on IS NULL"


# What a pathway row (`{row}`: NEW, OLD or a table alias) adds to its convention's counts, as SQL
# integers: app/seats/states.py's now_counts_sql as it rendered when this migration was written.
# Frozen here, since what a migration ran must not change with the code after it: a change of
# states.py is a new migration that replaces the triggers (tests/test_migrations.py compares).
NOW_COUNTS_SQL = {
    "occupied": "CASE WHEN ((NOT ({row}.entered_on IS NULL)) AND ({row}.cancelled_on IS NULL))"
    " AND ({row}.exited_on IS NULL) THEN 1 ELSE 0 END",
    "reserved": "CASE WHEN (NOT ({row}.waitlisted)) AND (COALESCE({row}.entered_on, {row}.cancelled_on) IS NULL)"
    " THEN 1 ELSE 0 END",
    "waitlisted": "CASE WHEN {row}.waitlisted THEN 1 ELSE 0 END",
}


def _counts(row: str) -> dict[str, str]:
    """What a pathway row (`row` is NEW, OLD or a table alias) adds to its convention's counts."""
    return {name: sql.replace("{row}", row) for name, sql in NOW_COUNTS_SQL.items()}


# --- PostgreSQL: one trigger per statement, with the statement's old and new rows ----------------


def _postgresql_count_function(name: str, *, new_rows: bool, old_rows: bool) -> str:
    """A trigger function that adds a statement's rows to their conventions' counts: +1 for each
    row as it is now, -1 as it was, summed per convention; then one UPDATE per convention whose
    counts moved, in convention order, so that two statements touching the same conventions take
    their row locks in the same order. Without JIT: compiling the sum of a COPY's rows took
    100 ms, twenty times the sum itself."""
    sources = []
    if new_rows:
        counts = _counts("n")
        sources.append(
            f"SELECT n.convention_id, {counts['occupied']} AS occupied, {counts['reserved']} AS reserved, "
            f"{counts['waitlisted']} AS waitlisted, n.updated_at FROM new_rows AS n"
        )
    if old_rows:
        counts = _counts("o")
        sources.append(
            f"SELECT o.convention_id, -({counts['occupied']}) AS occupied, -({counts['reserved']}) AS reserved, "
            f"-({counts['waitlisted']}) AS waitlisted, NULL::timestamptz AS updated_at FROM old_rows AS o"
        )
    changed = " UNION ALL ".join(sources)
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    delta record;
BEGIN
    FOR delta IN
        SELECT convention_id, sum(occupied) AS occupied, sum(reserved) AS reserved,
               sum(waitlisted) AS waitlisted, max(updated_at) AS updated_at
        FROM ({changed}) AS changed
        GROUP BY convention_id
        HAVING sum(occupied) <> 0 OR sum(reserved) <> 0 OR sum(waitlisted) <> 0
        ORDER BY convention_id
    LOOP
        UPDATE convention_seats
        SET occupied = occupied + delta.occupied,
            reserved = reserved + delta.reserved,
            waitlisted = waitlisted + delta.waitlisted,
            updated_at = GREATEST(updated_at, delta.updated_at)
        WHERE convention_id = delta.convention_id;
    END LOOP;
    RETURN NULL;
END $$;
"""


POSTGRESQL_FUNCTIONS = (
    """
CREATE FUNCTION convention_seats_create() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO convention_seats (convention_id) VALUES (NEW.id);
    RETURN NULL;
END $$;
"""
    + _postgresql_count_function("pathway_seats_insert", new_rows=True, old_rows=False)
    + _postgresql_count_function("pathway_seats_update", new_rows=True, old_rows=True)
    + _postgresql_count_function("pathway_seats_delete", new_rows=False, old_rows=True)
    + """
CREATE TRIGGER convention_seats_create AFTER INSERT ON convention
    FOR EACH ROW EXECUTE FUNCTION convention_seats_create();
CREATE TRIGGER pathway_seats_insert AFTER INSERT ON pathway
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pathway_seats_insert();
CREATE TRIGGER pathway_seats_update AFTER UPDATE ON pathway
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pathway_seats_update();
CREATE TRIGGER pathway_seats_delete AFTER DELETE ON pathway
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pathway_seats_delete();
"""
)

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS pathway_seats_delete ON pathway;
DROP TRIGGER IF EXISTS pathway_seats_update ON pathway;
DROP TRIGGER IF EXISTS pathway_seats_insert ON pathway;
DROP TRIGGER IF EXISTS convention_seats_create ON convention;
DROP FUNCTION IF EXISTS pathway_seats_delete();
DROP FUNCTION IF EXISTS pathway_seats_update();
DROP FUNCTION IF EXISTS pathway_seats_insert();
DROP FUNCTION IF EXISTS convention_seats_create();
"""


# --- SQLite: one trigger per row (writers are serialised: no lock order to keep) ----------------


def _sqlite_add(row: str, sign: str) -> str:
    counts = _counts(row)
    updated_at = f"max(coalesce(updated_at, ''), {row}.updated_at)" if sign == "+" else "updated_at"
    return f"""
    UPDATE convention_seats
    SET occupied = occupied {sign} ({counts["occupied"]}),
        reserved = reserved {sign} ({counts["reserved"]}),
        waitlisted = waitlisted {sign} ({counts["waitlisted"]}),
        updated_at = {updated_at}
    WHERE convention_id = {row}.convention_id;"""


def _sqlite_changed() -> str:
    old, new = _counts("OLD"), _counts("NEW")
    differs = " OR ".join(f"({old[name]}) <> ({new[name]})" for name in old)
    return f"OLD.convention_id <> NEW.convention_id OR {differs}"


SQLITE_TRIGGERS = [
    """CREATE TRIGGER convention_seats_create AFTER INSERT ON convention BEGIN
    INSERT INTO convention_seats (convention_id) VALUES (NEW.id);
END""",
    f"CREATE TRIGGER pathway_seats_insert AFTER INSERT ON pathway BEGIN {_sqlite_add('NEW', '+')} END",
    f"CREATE TRIGGER pathway_seats_delete AFTER DELETE ON pathway BEGIN {_sqlite_add('OLD', '-')} END",
    f"""CREATE TRIGGER pathway_seats_update AFTER UPDATE ON pathway WHEN {_sqlite_changed()} BEGIN
    {_sqlite_add("OLD", "-")}
    {_sqlite_add("NEW", "+")}
END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in ("pathway_seats_update", "pathway_seats_delete", "pathway_seats_insert", "convention_seats_create")
]

# Every convention's counts from its pathways: the first fill, and what the tests compare with.
BACKFILL = f"""
INSERT INTO convention_seats (convention_id, occupied, reserved, waitlisted, updated_at)
SELECT c.id,
       coalesce(sum({_counts("p")["occupied"]}), 0),
       coalesce(sum({_counts("p")["reserved"]}), 0),
       coalesce(sum({_counts("p")["waitlisted"]}), 0),
       max(p.updated_at)
FROM convention AS c LEFT JOIN pathway AS p ON p.convention_id = c.id AND p.exited_on IS NULL AND p.cancelled_on IS NULL
GROUP BY c.id
"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "convention_seats",
        sa.Column("convention_id", sa.Integer(), nullable=False),
        sa.Column("occupied", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        sa.Column("waitlisted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["convention_id"],
            ["convention.id"],
            name=op.f("fk_convention_seats_convention_id_convention"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("convention_id", name=op.f("pk_convention_seats")),
    )
    op.execute(BACKFILL)
    if sqlite:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        op.execute(POSTGRESQL_FUNCTIONS)

    with op.batch_alter_table("pathway") as batch_op:
        batch_op.drop_index("ix_pathway_open_convention_id", postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.create_index(
            "ix_pathway_open_convention_id_planned_end_on",
            ["convention_id", "planned_end_on"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index(
            "ix_pathway_pending_convention_id_prescribed_on",
            ["convention_id", "prescribed_on"],
            unique=False,
            postgresql_where=sa.text(PENDING),
            sqlite_where=sa.text(PENDING),
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("pathway") as batch_op:
        batch_op.drop_index(
            "ix_pathway_pending_convention_id_prescribed_on",
            postgresql_where=sa.text(PENDING),
            sqlite_where=sa.text(PENDING),
        )
        batch_op.drop_index(
            "ix_pathway_open_convention_id_planned_end_on",
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index(
            "ix_pathway_open_convention_id",
            ["convention_id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
    if sqlite:
        for statement in SQLITE_DROP:
            op.execute(statement)
    else:
        op.execute(POSTGRESQL_DROP)
    op.drop_table("convention_seats")
