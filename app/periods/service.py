"""Consolidated years: once the département has published a year's figures, writes that would
change them are refused. Every service that writes dated data asks `ensure_open` first.

Consolidation is atomic with those writes. On PostgreSQL a writer takes a *shared* advisory lock
on each year it touches before it reads the year's status, and keeps it until it commits;
consolidating or reopening takes the same lock *exclusively*. So a consolidation waits for the
writes in flight on its year to commit, and a write that comes after waits for the consolidation
and then sees it. On SQLite every writer holds the database's write lock from its first
statement (BEGIN IMMEDIATE, see app/core/engines.py), which serialises them just as well.

The domain sits below every writer of dated data (catalogue, conventions, pathways), so it
imports none of them.
"""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import column, func, table, text, union
from sqlmodel import Session, select

from app.audit.service import record
from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput, PeriodConsolidated
from app.core.sql import is_postgres
from app.core.time import today, utcnow
from app.periods.models import Period, PeriodStatus

# First key of the two-integer advisory locks this service takes (the second is the year), so
# that they cannot collide with another application's locks on the same database.
ADVISORY_LOCK_SPACE = 0x50_44_49  # "PDI"

# The years that carry figures are the years of the conventions' yearly lines; the conventions
# domain is above this one, so it is named here by its table and column only.
_convention_year = table("convention_year", column("year"))


def consolidated_years(session: Session) -> set[int]:
    rows = session.exec(select(Period.year).where(Period.status == PeriodStatus.consolidated))
    return set(rows)


def _open_years_checked(session: Session) -> set[int]:
    """The years this transaction has locked and found open: a batch checks each year once.

    Kept per transaction (a new transaction starts with an empty set), since the locks end
    with it."""
    transaction = session.get_transaction()
    cached = session.info.get("periods.open_years")
    if cached is None or cached[0] is not transaction:
        cached = (transaction, set())
        session.info["periods.open_years"] = cached
    return cached[1]


def ensure_open(*, session: Session, days: Iterable[date | None] = (), years: Iterable[int | None] = ()) -> None:
    """409 when any of the given days or years falls in a consolidated year (None is ignored).

    The years stay locked against consolidation until the caller's transaction ends."""
    touched = {day.year for day in days if day is not None} | {year for year in years if year is not None}
    closed = sorted(closed_years(session=session, years=touched))
    if closed:
        raise PeriodConsolidated(
            f"{', '.join(map(str, closed))} {'is' if len(closed) == 1 else 'are'} consolidated: "
            "reopen the period before changing its figures"
        )


def closed_years(*, session: Session, years: Iterable[int]) -> set[int]:
    """Which of `years` are consolidated, the others staying locked open until the caller's
    transaction ends (a batch asks once for all its items' years)."""
    checked = _open_years_checked(session)
    new = sorted(set(years) - checked)
    if not new:
        return set()
    if is_postgres(session):
        for year in new:  # in order, like every other locker, so that no two wait on each other
            session.execute(
                text("SELECT pg_advisory_xact_lock_shared(:space, :year)"),
                {"space": ADVISORY_LOCK_SPACE, "year": year},
            )
    closed = set(
        session.exec(select(Period.year).where(Period.year.in_(new), Period.status == PeriodStatus.consolidated))
    )
    checked.update(set(new) - closed)
    return closed


def _lock_year_exclusively(session: Session, year: int) -> None:
    """Wait for every write in flight on `year` to commit, and hold later ones off until commit."""
    if is_postgres(session):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :year)"), {"space": ADVISORY_LOCK_SPACE, "year": year}
        )
    # A year this transaction saw open may be closing now.
    _open_years_checked(session).discard(year)


# --- Consolidation (the /periods endpoints) ---------------------------------------------------

# Earliest year the service holds figures for; a year before it is a typo, not a period.
FIRST_YEAR = 2000


def all_consolidated(session: Session, years: Iterable[int]) -> bool:
    years = set(years)
    return bool(years) and years <= consolidated_years(session)


def list_periods(*, session: Session, offset: int, limit: int) -> tuple[list[tuple], int]:
    """(year, status, consolidated_at) of every year that has convention years or a Period row,
    oldest first, and their count; a year without a row is open."""
    years = union(select(_convention_year.c.year.label("year")), select(Period.year.label("year"))).subquery()
    total = session.execute(select(func.count()).select_from(years)).scalar_one()
    rows = session.execute(
        select(years.c.year, func.coalesce(Period.status, PeriodStatus.open.value), Period.consolidated_at)
        .outerjoin(Period, Period.year == years.c.year)
        .order_by(years.c.year)
        .offset(offset)
        .limit(limit)
    ).all()
    return [tuple(row) for row in rows], total


def _checked_year(year: int) -> None:
    if not FIRST_YEAR <= year <= today().year:
        raise InvalidInput(
            f"{year} cannot be consolidated: a period is a past or current year from {FIRST_YEAR}",
            loc=["path", "year"],
        )


def consolidate(*, session: Session, caller: Caller, year: int) -> Period:
    """Close a year's figures. Consolidating a consolidated year is a 409: its consolidation date
    and author stay those of the first time."""
    _checked_year(year)
    _lock_year_exclusively(session, year)
    period = session.get(Period, year, with_for_update=True, populate_existing=True) or Period(year=year)
    if period.status == PeriodStatus.consolidated:
        since = f" since {period.consolidated_at:%Y-%m-%d}" if period.consolidated_at else ""
        raise Conflict(f"{year} is already consolidated{since}: reopen it first to consolidate it again")
    period.status = PeriodStatus.consolidated
    period.consolidated_at = utcnow()
    period.consolidated_by_key_id = caller.key_id
    session.add(period)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity="period",
        entity_id=year,
        action="consolidate",
        fields=["status", "consolidated_at", "consolidated_by_key_id"],
    )
    return period


def reopen(*, session: Session, caller: Caller, year: int) -> Period:
    """Open a consolidated year again (409 when it is open)."""
    _checked_year(year)
    _lock_year_exclusively(session, year)
    period = session.get(Period, year, with_for_update=True, populate_existing=True)
    if period is None or period.status != PeriodStatus.consolidated:
        raise Conflict(f"{year} is not consolidated")
    period.status = PeriodStatus.open
    period.consolidated_at = None
    period.consolidated_by_key_id = None
    session.add(period)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity="period",
        entity_id=year,
        action="reopen",
        fields=["status", "consolidated_at", "consolidated_by_key_id"],
    )
    return period
