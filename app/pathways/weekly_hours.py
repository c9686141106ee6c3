"""The hours a week a pathway gives its person (SPEC C11), defined once.

A pathway's *effective* weekly hours are the first known of, in this order (`PRECEDENCE`):
- the pathway's own `weekly_hours` (what the person's contract says),
- its convention year's `weekly_hours`: the convention's year in which the pathway started (its
  entry, else its prescription), so that a pathway's hours do not change with the day asked,
- its action's `weekly_hours`;
null when none is known.

The order is written once; `effective` (Python: read models, the oracle) and `effective_sql`
(SQL: the feed on PostgreSQL, the meter, the indicators) both follow it, and
tests/pathways/test_weekly_hours.py holds them equal on random rows on both databases.
"""

from collections.abc import Mapping
from datetime import date

from sqlalchemy import ColumnElement, and_, extract, func, select
from sqlalchemy.orm import aliased

from app.catalogue.models import Action
from app.conventions.models import Convention, ConventionYear
from app.pathways.models import Pathway

# Where the hours come from, the first known winning.
PRECEDENCE = ("pathway", "convention_year", "action")


def effective(sources: Mapping[str, float | None]) -> float | None:
    """The effective weekly hours, given each source's hours by its name in PRECEDENCE."""
    for source in PRECEDENCE:
        if sources[source] is not None:
            return float(sources[source])
    return None


def start_year(*, entered_on: date | None, prescribed_on: date) -> int:
    """The year of the convention whose hours apply: that of the pathway's start."""
    return (entered_on or prescribed_on).year


def start_year_sql(pathway=Pathway) -> ColumnElement[int]:
    """`start_year` in SQL (EXTRACT; SQLite's STRFTIME through SQLAlchemy)."""
    return extract("year", func.coalesce(pathway.entered_on, pathway.prescribed_on))


def source_columns_sql(pathway=Pathway, convention=Convention) -> dict[str, ColumnElement]:
    """Each source's hours as a scalar expression correlated to the pathway row (and its
    convention row, which the statement must join): the convention year by its unique key,
    the action by its id."""
    year = aliased(ConventionYear)
    return {
        "pathway": pathway.weekly_hours,
        "convention_year": select(year.weekly_hours)
        .where(and_(year.convention_id == pathway.convention_id, year.year == start_year_sql(pathway)))
        .correlate_except(year)
        .scalar_subquery(),
        "action": select(Action.weekly_hours)
        .where(Action.id == convention.action_id)
        .correlate_except(Action)
        .scalar_subquery(),
    }


def effective_sql(pathway=Pathway, convention=Convention) -> ColumnElement[float]:
    """`effective` in SQL, for a statement that joins the pathway's convention."""
    sources = source_columns_sql(pathway, convention)
    return func.coalesce(*(sources[source] for source in PRECEDENCE))
