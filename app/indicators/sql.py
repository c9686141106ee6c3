"""Date arithmetic that reads the same in the engine's queries and runs on SQLite and PostgreSQL.

SQLite keeps dates as ISO strings (so comparisons work) but has no date subtraction and spells
GREATEST/LEAST as the multi-argument max()/min(); these constructs hide the difference.
"""

from sqlalchemy import Integer, Table
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement, TableClause, column
from sqlalchemy.types import Date


class days_between(FunctionElement):
    """`later - earlier` in whole days (an integer; negative when `later` is earlier)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_postgresql(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    # julianday() of two midnights differs by a whole number; CAST drops the float.
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


class greatest(FunctionElement):
    """The latest of dates. Arguments must not be NULL: PostgreSQL skips NULLs, SQLite returns NULL."""

    type = Date()
    inherit_cache = True
    name = "greatest"


class least(FunctionElement):
    """The earliest of dates. Arguments must not be NULL (see `greatest`)."""

    type = Date()
    inherit_cache = True
    name = "least"


def _call(sql_name: str):
    def render(element, compiler, **kw):
        return f"{sql_name}({compiler.process(element.clauses, **kw)})"

    return render


compiles(greatest)(_call("GREATEST"))
compiles(least)(_call("LEAST"))
compiles(greatest, "sqlite")(_call("max"))
compiles(least, "sqlite")(_call("min"))


class _FullScan(TableClause):
    inherit_cache = True


@compiles(_FullScan)
def _full_scan_default(element, compiler, **kw):
    return compiler.visit_table(element, **kw)


@compiles(_FullScan, "sqlite")
def _full_scan_sqlite(element, compiler, asfrom=False, **kw):
    rendered = compiler.visit_table(element, asfrom=asfrom, **kw)
    return f"{rendered} NOT INDEXED" if asfrom else rendered


def full_scan(table: Table) -> TableClause:
    """`table`, read from start to end by SQLite (`NOT INDEXED`) instead of through an index.

    An aggregate over most of a big table is several times faster as one sequential pass than
    as index lookups scattered over the table, which SQLite's planner picks when a join or a
    date predicate matches an index. PostgreSQL's planner chooses well unaided.
    """
    return _FullScan(table.name, *(column(c.name, c.type) for c in table.columns))
