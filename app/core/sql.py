"""SQL helpers over a session: which database it is, row ids and batches' rows as SQL that stays
the same whatever their number, the planner's statistics after a bulk write."""

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, FromClause, Integer, bindparam, column, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine
from sqlmodel import Session


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (advisory locks, NOTIFY, arrays), not SQLite."""
    return session.get_bind().dialect.name == "postgresql"


def ids_in(column, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (…)` for row ids, written into the SQL as integer literals. As bound
    parameters, a page or a batch of hundreds of ids would be as many parameters, which psycopg
    parses anew at every execution (it caches the parsing of statements of 50 parameters or
    fewer); integers need no quoting."""
    return column.in_(bindparam(None, [int(value) for value in ids], expanding=True, literal_execute=True))


def rows_table(
    session: Session, name: str, columns: Sequence[tuple[str, TypeEngine]], rows: Sequence[Sequence]
) -> FromClause:
    """A batch's rows (keys to look up, values to write) as a table `name` of `columns`, to join
    instead of an `IN (…)` of tuples or an executemany: the SQL and its parameters are the same
    whatever the batch's size.

    PostgreSQL: `unnest(:a, :b, …) AS name (a, b, …)`, one array parameter per column. A tuple
    IN of 1,000 keys of three parts is 3,000 bound parameters, which psycopg parses anew at every
    execution (it caches statements of 50 parameters or fewer) and PostgreSQL plans anew for
    each batch size (98 ms at 1,000); three arrays are one statement, planned once.
    SQLite has no arrays: the rows are one JSON parameter (a list of lists, each value as the
    column's type stores it) read by `json_each`, each column cast back to its type with
    `json_extract`. One parameter too, so no limit on bound parameters either.
    """
    if is_postgres(session):
        arrays = [
            bindparam(None, [row[position] for row in rows], type_=ARRAY(type_))
            for position, (_name, type_) in enumerate(columns)
        ]
        return (
            func.unnest(*arrays)
            .table_valued(*(column(column_name, type_) for column_name, type_ in columns))
            .render_derived(name=name)
        )
    dialect = session.get_bind().dialect
    processors = [type_.dialect_impl(dialect).bind_processor(dialect) for _name, type_ in columns]
    stored = [
        [
            value if value is None or processor is None else processor(value)
            for value, processor in zip(row, processors, strict=True)
        ]
        for row in rows
    ]
    each = func.json_each(bindparam(None, json.dumps(stored))).table_valued("value")
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$[{position}]"), type_).label(column_name)
            for position, (column_name, type_) in enumerate(columns)
        )
    ).subquery(name)


def ids_table(session: Session, ids: Iterable[int]) -> FromClause:
    """Row ids of a batch as a table of one column `id` (rows_table), to join instead of `IN (…)`."""
    return rows_table(session, "named", [("id", Integer())], [(int(value),) for value in sorted(set(ids))])


# A write of this many rows in one transaction is a bulk write: its tables are analysed then
# (analyze_after_bulk), not left to autovacuum's next turn (`pdi retention`, the expiry job).
ANALYZE_AFTER_ROWS = 10_000


def analyze_after_bulk(session: Session, tables: Iterable, rows: int) -> bool:
    """ANALYZE `tables` when `rows` (written by the transaction) reach ANALYZE_AFTER_ROWS, on
    PostgreSQL; whether it did."""
    if rows < ANALYZE_AFTER_ROWS or not is_postgres(session):
        return False
    analyze(session, tables)
    return True


def analyze(session: Session, tables: Iterable) -> None:
    """PostgreSQL: gather the planner's statistics of the tables (names or models) a bulk write
    just filled, in the writing transaction (ANALYZE counts its own uncommitted rows). Until
    autovacuum gets to them, which may take minutes, a freshly filled table is planned from
    its empty-table estimates: scans where an index was the way, nested loops over millions."""
    if not is_postgres(session):
        return
    names = sorted({getattr(table, "__tablename__", table) for table in tables})
    if names:
        quote = session.get_bind().dialect.identifier_preparer.quote
        session.execute(text(f"ANALYZE {', '.join(quote(name) for name in names)}"))
