"""The seat states of app/seats/states.py, as the triggers' SQL says them and as Python says them,
agree with each other and with SPEC C3's wording, on every combination of dates the pathway
table's checks allow, on the database under test: the one definition cannot drift."""

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import product

from sqlalchemy import text

from app.pathways.models import Pathway, PathwayStatus
from app.seats import states

FIRST = date(2024, 3, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(4)]
# Every day a question may ask: before, on and after each of the pathways' dates.
ASKED = [FIRST - timedelta(days=1), *DAYS, DAYS[-1] + timedelta(days=1)]


@dataclass(frozen=True)
class Row:
    prescribed_on: date
    entered_on: date | None
    exited_on: date | None
    cancelled_on: date | None
    waitlisted: bool


def allowed_rows() -> list[Row]:
    """The pathway table's checks: an entry after the prescription, an exit after the entry, an
    end without entry only without an entry, the waiting list for open prescriptions only."""
    rows = []
    for prescribed, entered, exited, cancelled, waitlisted in product(
        DAYS, [None, *DAYS], [None, *DAYS], [None, *DAYS], [False, True]
    ):
        if entered is not None and entered < prescribed:
            continue
        if exited is not None and (entered is None or exited < entered):
            continue
        if cancelled is not None and (entered is not None or cancelled < prescribed):
            continue
        if waitlisted and (entered is not None or cancelled is not None):
            continue
        rows.append(Row(prescribed, entered, exited, cancelled, waitlisted))
    return rows


ROWS = allowed_rows()


# SPEC C3 in its own words (and as the availability code said it before the states module).
def spec_occupies_on(row: Row, on: date) -> bool:
    return (
        row.entered_on is not None
        and row.entered_on <= on
        and (row.exited_on is None or row.exited_on >= on)
        and row.cancelled_on is None
    )


def spec_reserves_on(row: Row, on: date) -> bool:
    return (
        row.prescribed_on <= on
        and (row.entered_on is None or row.entered_on > on)
        and (row.cancelled_on is None or row.cancelled_on > on)
        and not row.waitlisted
    )


def spec_now(row: Row) -> tuple[bool, bool, bool]:
    """What the counters count: open and entered; open, not entered, not waiting; waiting."""
    still_open = row.exited_on is None and row.cancelled_on is None
    return (
        still_open and row.entered_on is not None,
        still_open and row.entered_on is None and not row.waitlisted,
        row.waitlisted,
    )


def _literal(value, dialect: str) -> str:
    if value is None:
        return "NULL" if dialect == "sqlite" else "CAST(NULL AS DATE)"
    if isinstance(value, bool):
        return ("1" if value else "0") if dialect == "sqlite" else ("TRUE" if value else "FALSE")
    return f"'{value.isoformat()}'" if dialect == "sqlite" else f"DATE '{value.isoformat()}'"


def day_changes_of(row: Row) -> list[tuple[date, int, int]]:
    """What states.day_changes_sql gives for one row, evaluated in Python: (day, occupied
    change, reserved change)."""
    changes = []
    for name, span in states.SPANS.items():
        for day, condition, step in ((span.starts, span.holds, 1), (span.ends_before, span.ends, -1)):
            if states.truth(condition, row):
                changes.append((day.value(row), step if name == "occupied" else 0, step if name == "reserved" else 0))
    return changes


def _evaluated_by_the_database(session, columns: dict[str, str]) -> list[dict]:
    """Each SQL expression of `columns` (over the row alias `r`) for every row of ROWS, as the
    database under test computes it."""
    dialect = session.get_bind().dialect.name
    values = ", ".join(
        "("
        + ", ".join(
            [str(number)]
            + [
                _literal(getattr(row, field), dialect)
                for field in ("prescribed_on", "entered_on", "exited_on", "cancelled_on", "waitlisted")
            ]
        )
        + ")"
        for number, row in enumerate(ROWS)
    )
    selected = ", ".join(f"{expression} AS {name}" for name, expression in columns.items())
    statement = (
        "WITH r(number, prescribed_on, entered_on, exited_on, cancelled_on, waitlisted) AS "
        f"(VALUES {values}) SELECT number, {selected} FROM r ORDER BY number"
    )
    return [row._asdict() for row in session.execute(text(statement))]


def test_what_a_pathway_takes_on_each_day_is_the_same_in_sql_in_python_and_in_the_spec(session):
    dialect = session.get_bind().dialect.name
    for on in ASKED:
        asked = states.Day(_literal(on, dialect), on)
        columns = {name: states.when_sql(span.on(asked), "r", dialect) for name, span in states.SPANS.items()}
        for row, computed in zip(ROWS, _evaluated_by_the_database(session, columns), strict=True):
            expected = {"occupied": spec_occupies_on(row, on), "reserved": spec_reserves_on(row, on)}
            in_python = {name: states.truth(span.on(asked), row) for name, span in states.SPANS.items()}
            in_sql = {name: bool(computed[name]) for name in states.SPANS}
            assert in_sql == in_python == expected, (row, on)


def test_the_counters_count_now_as_the_spec_says_in_sql_and_in_python(session):
    """The counters' triggers (migrations c5d1e3a7f9b2 and f3b7d1a9c5e2) run now_counts_sql, frozen
    in them (tests/test_migrations.py)."""
    computed = _evaluated_by_the_database(session, states.now_counts_sql("r"))
    for row, in_sql in zip(ROWS, computed, strict=True):
        in_python = (states.occupies_now(row), states.truth(states.RESERVES.now, row), states.is_waitlisted(row))
        assert (bool(in_sql["occupied"]), bool(in_sql["reserved"]), bool(in_sql["waitlisted"])) == in_python
        assert in_python == spec_now(row), row
        # Now is what a pathway takes on a day after all its dates.
        after_all = ASKED[-1] + timedelta(days=1)
        assert in_python[:2] == (spec_occupies_on(row, after_all), spec_reserves_on(row, after_all))


def test_the_changes_by_day_add_up_to_the_counts_of_each_day(session):
    """The triggers' changes by day (day_changes_sql), summed up to a day, give that day's counts:
    in SQL as the database computes them, and in Python."""
    dialect = session.get_bind().dialect.name
    values = ", ".join(
        "(1, "
        + ", ".join(
            _literal(getattr(row, field), dialect)
            for field in ("prescribed_on", "entered_on", "exited_on", "cancelled_on", "waitlisted")
        )
        + ")"
        for row in ROWS
    )
    source = (
        "(WITH p(convention_id, prescribed_on, entered_on, exited_on, cancelled_on, waitlisted) AS "
        f"(VALUES {values}) SELECT * FROM p)"
    )
    changes = session.execute(text(states.day_changes_sql(source, +1, dialect))).all()
    in_python = [change for row in ROWS for change in day_changes_of(row)]
    as_dates = sorted((date.fromisoformat(str(day)), occupied, reserved) for _c, day, occupied, reserved in changes)
    assert as_dates == sorted(in_python)
    for on in ASKED:
        summed = (
            sum(occupied for day, occupied, _r in in_python if day <= on),
            sum(reserved for day, _o, reserved in in_python if day <= on),
        )
        assert summed == (
            sum(spec_occupies_on(row, on) for row in ROWS),
            sum(spec_reserves_on(row, on) for row in ROWS),
        ), on


def test_a_pathways_status_says_what_it_takes_of_the_seats_now():
    for row in ROWS:
        pathway = Pathway(convention_id=1, person_key=1, **row.__dict__)
        occupies, reserves, waits = spec_now(row)
        assert (pathway.status == PathwayStatus.active) == occupies, row
        assert (pathway.status == PathwayStatus.prescribed) == reserves, row
        assert (pathway.status == PathwayStatus.waitlisted) == waits, row
