"""Consolidated years: once the département has published a year's figures, writes that would
change them are refused. Every service that writes dated data asks `ensure_open` first."""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, union
from sqlmodel import Session, select

from app.audit.service import record
from app.auth.service import Caller
from app.conventions.models import ConventionYear
from app.core.errors import Conflict, InvalidInput, PeriodConsolidated
from app.core.time import today, utcnow
from app.periods.models import Period, PeriodStatus


def consolidated_years(session: Session) -> set[int]:
    rows = session.exec(select(Period.year).where(Period.status == PeriodStatus.consolidated))
    return set(rows)


def ensure_open(*, session: Session, days: Iterable[date | None] = (), years: Iterable[int | None] = ()) -> None:
    """409 when any of the given days or years falls in a consolidated year (None is ignored)."""
    touched = {day.year for day in days if day is not None} | {year for year in years if year is not None}
    if not touched:
        return
    closed = sorted(touched & consolidated_years(session))
    if closed:
        raise PeriodConsolidated(
            f"{', '.join(map(str, closed))} {'is' if len(closed) == 1 else 'are'} consolidated: "
            "reopen the period before changing its figures"
        )


# --- Consolidation (the /periods endpoints) ---------------------------------------------------

# Earliest year the service holds figures for; a year before it is a typo, not a period.
FIRST_YEAR = 2000


def all_consolidated(session: Session, years: Iterable[int]) -> bool:
    years = set(years)
    return bool(years) and years <= consolidated_years(session)


def list_periods(*, session: Session, offset: int, limit: int) -> tuple[list[tuple], int]:
    """(year, status, consolidated_at) of every year that has convention years or a Period row,
    oldest first, and their count; a year without a row is open."""
    years = union(select(ConventionYear.year.label("year")), select(Period.year.label("year"))).subquery()
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
    period = session.get(Period, year) or Period(year=year)
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
    period = session.get(Period, year)
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
