"""Consolidated years: once the département has published a year's figures, writes that would
change them are refused. Every service that writes dated data asks `ensure_open` first."""

from collections.abc import Iterable
from datetime import date

from sqlmodel import Session, select

from app.core.errors import PeriodConsolidated
from app.indicators.models import Period, PeriodStatus


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
