"""What a pathway takes of its convention's seats, defined once (SPEC C3).

A pathway
- *occupies* a seat from its entry to its exit, both days included (a person leaving on a day is
  still there that day), unless it was cancelled;
- *reserves* one from its prescription until its entry or its end without entry (cancellation,
  refusal, withdrawal, expiry: all keep their day in `cancelled_on`), unless it is on the
  waiting list;
- is *waitlisted* while it waits for a seat: a current state (the flag says nothing of past days,
  so a waitlisted pathway reserves nothing on any day).

The first two are spans of days, `[starts, ends_before)` when `holds`; what a pathway takes *on*
a day and what it takes *now* (on a day after all its dates: what the counters `convention_seats`
hold) both follow from the span. Each part is written once as a small expression that renders
to SQL (the triggers of the migrations, for a row alias such as `NEW`, on SQLite or PostgreSQL)
and evaluates in Python (`Pathway.status`, tests), so that the database and the code cannot
disagree on what a seat is; tests/seats/test_states.py evaluates both on every combination of
dates the table's checks allow, on both databases. The migrations hold a frozen copy of the SQL
they ran, which tests/test_migrations.py compares with this module: a change here needs a
migration that replaces the triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

# --- The expressions: SQL's three-valued logic, evaluated alike in Python ------------------------


class Expr:
    def sql(self, row: str, dialect: str) -> str:
        raise NotImplementedError

    def value(self, row: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Column(Expr):
    name: str

    def sql(self, row: str, dialect: str) -> str:
        return f"{row}.{self.name}" if row else self.name

    def value(self, row: Any) -> Any:
        return getattr(row, self.name)


@dataclass(frozen=True)
class Day(Expr):
    """A day given from outside the row (the day asked), as SQL text and as a date."""

    sql_text: str
    day: date | None = None

    def sql(self, row: str, dialect: str) -> str:
        return self.sql_text

    def value(self, row: Any) -> Any:
        return self.day


@dataclass(frozen=True)
class IsNull(Expr):
    operand: Expr

    def sql(self, row: str, dialect: str) -> str:
        # The day after a day is null exactly when the day is: no date arithmetic to write.
        operand = self.operand.operand if isinstance(self.operand, DayAfter) else self.operand
        return f"{operand.sql(row, dialect)} IS NULL"

    def value(self, row: Any) -> bool:
        return self.operand.value(row) is None


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr

    def sql(self, row: str, dialect: str) -> str:
        return f"NOT ({self.operand.sql(row, dialect)})"

    def value(self, row: Any) -> bool | None:
        operand = self.operand.value(row)
        return None if operand is None else not operand


@dataclass(frozen=True)
class And(Expr):
    operands: tuple[Expr, ...]

    def sql(self, row: str, dialect: str) -> str:
        return " AND ".join(f"({operand.sql(row, dialect)})" for operand in self.operands)

    def value(self, row: Any) -> bool | None:
        values = [operand.value(row) for operand in self.operands]
        if any(value is False for value in values):
            return False
        return None if any(value is None for value in values) else True


@dataclass(frozen=True)
class Or(Expr):
    operands: tuple[Expr, ...]

    def sql(self, row: str, dialect: str) -> str:
        return " OR ".join(f"({operand.sql(row, dialect)})" for operand in self.operands)

    def value(self, row: Any) -> bool | None:
        values = [operand.value(row) for operand in self.operands]
        if any(value is True for value in values):
            return True
        return None if any(value is None for value in values) else False


@dataclass(frozen=True)
class Before(Expr):
    """`left < right` (or `<=` when `or_same`), unknown when either is null."""

    left: Expr
    right: Expr
    or_same: bool = False

    def sql(self, row: str, dialect: str) -> str:
        return f"{self.left.sql(row, dialect)} {'<=' if self.or_same else '<'} {self.right.sql(row, dialect)}"

    def value(self, row: Any) -> bool | None:
        left, right = self.left.value(row), self.right.value(row)
        if left is None or right is None:
            return None
        return left <= right if self.or_same else left < right


@dataclass(frozen=True)
class Coalesce(Expr):
    operands: tuple[Expr, ...]

    def sql(self, row: str, dialect: str) -> str:
        return f"COALESCE({', '.join(operand.sql(row, dialect) for operand in self.operands)})"

    def value(self, row: Any) -> Any:
        return next((value for value in (operand.value(row) for operand in self.operands) if value is not None), None)


@dataclass(frozen=True)
class DayAfter(Expr):
    operand: Expr

    def sql(self, row: str, dialect: str) -> str:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"a day after a day needs a dialect, not {dialect!r}")
        operand = self.operand.sql(row, dialect)
        # SQLite stores dates as ISO text; PostgreSQL adds days to a date as integers.
        return f"date({operand}, '+1 day')" if dialect == "sqlite" else f"({operand} + 1)"

    def value(self, row: Any) -> date | None:
        operand = self.operand.value(row)
        return None if operand is None else operand + timedelta(days=1)


def truth(expression: Expr, row: Any) -> bool:
    """Whether `expression` holds for `row` as a SQL WHERE or CASE WHEN sees it (unknown: no)."""
    return expression.value(row) is True


def when_sql(expression: Expr, row: str, dialect: str) -> str:
    """1 when `expression` holds for `row`, else 0: a SQL integer to sum."""
    return f"CASE WHEN {expression.sql(row, dialect)} THEN 1 ELSE 0 END"


# --- The states ---------------------------------------------------------------------------------

PRESCRIBED_ON = Column("prescribed_on")
ENTERED_ON = Column("entered_on")
EXITED_ON = Column("exited_on")
CANCELLED_ON = Column("cancelled_on")
WAITLISTED_FLAG = Column("waitlisted")


@dataclass(frozen=True)
class Span:
    """A seat taken from `starts` (included) until `ends_before` (excluded; null: not ended),
    by the pathways for which `holds`."""

    holds: Expr
    starts: Expr
    ends_before: Expr

    def on(self, day: Expr) -> Expr:
        """Taken on `day`."""
        return And(
            (
                self.holds,
                Before(self.starts, day, or_same=True),
                Or((IsNull(self.ends_before), Before(day, self.ends_before))),
            )
        )

    @property
    def now(self) -> Expr:
        """Taken on a day after all the pathway's dates: what the counters count."""
        return And((self.holds, IsNull(self.ends_before)))

    @property
    def ends(self) -> Expr:
        """The span has an end (its day `ends_before` gives the seat back)."""
        return And((self.holds, Not(IsNull(self.ends_before))))


# A cancelled pathway never entered (the table's checks), so it occupies nothing.
OCCUPIES = Span(
    holds=And((Not(IsNull(ENTERED_ON)), IsNull(CANCELLED_ON))), starts=ENTERED_ON, ends_before=DayAfter(EXITED_ON)
)
# Entry and end without entry exclude each other (the table's checks): the first of them ends it.
RESERVES = Span(holds=Not(WAITLISTED_FLAG), starts=PRESCRIBED_ON, ends_before=Coalesce((ENTERED_ON, CANCELLED_ON)))
WAITLISTED = WAITLISTED_FLAG
SPANS = {"occupied": OCCUPIES, "reserved": RESERVES}


def occupies_now(pathway) -> bool:
    return truth(OCCUPIES.now, pathway)


def is_waitlisted(pathway) -> bool:
    return truth(WAITLISTED, pathway)


def now_counts_sql(row: str) -> dict[str, str]:
    """What a pathway row (`row`: NEW, OLD or an alias) adds to its convention's counters now,
    as SQL integers, the same on both databases (no date arithmetic)."""
    return {
        "occupied": when_sql(OCCUPIES.now, row, ""),
        "reserved": when_sql(RESERVES.now, row, ""),
        "waitlisted": when_sql(WAITLISTED, row, ""),
    }


def day_changes_sql(rows: str, sign: int, dialect: str) -> str:
    """SELECT convention_id, day, occupied, reserved: the changes of the counts a day brings,
    for each pathway of the table (or transition table) `rows`, times `sign` (+1 for rows as
    they are, -1 as they were). The counts on a day are the sum of the changes up to it."""
    parts = []
    for name, span in SPANS.items():
        for day, condition, step in ((span.starts, span.holds, sign), (span.ends_before, span.ends, -sign)):
            occupied, reserved = (step, 0) if name == "occupied" else (0, step)
            parts.append(
                f"SELECT r.convention_id, {day.sql('r', dialect)} AS day, {occupied} AS occupied, "
                f"{reserved} AS reserved FROM {rows} AS r WHERE {condition.sql('r', dialect)}"
            )
    return " UNION ALL ".join(parts)
