"""The engine's entry points: `compute` and `compute_for_years` run the queries over their
windows, merge the per-group totals and divide (the definitions: app/indicators/engine/__init__.py)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.catalogue.models import Action, Family
from app.indicators.engine.framework import GROUP_KEYS, INDICATOR_CODES, GroupValue, Query, Scope, Window
from app.indicators.engine.pathway_query import pathway_totals
from app.indicators.engine.queries import (
    activity_totals,
    convention_targets,
    convention_totals,
    diagnostic_totals,
    hours_totals,
)
from app.indicators.engine.totals import (
    ConventionTotals,
    DiagnosticTotals,
    GroupTotals,
    HoursTotals,
    PathwayTotals,
    Value,
    person_counts,
    values_from,
)
from app.periods.service import consolidated_years
from app.reference.indicators import INDICATORS_BY_CODE


@dataclass
class IndicatorRow:
    group: dict[str, GroupValue]
    values: dict[str, Value]
    consolidated: bool
    # The convention year's targets, when rows are grouped by convention within one year.
    targets: dict[str, float] | None = None
    # The counts of persons behind `values` (person_counts): what statistical secrecy reads.
    counts: dict[str, int] = field(default_factory=dict, repr=False)


def compute(
    *,
    session: Session,
    start: date,
    end: date,
    as_of: date,
    scope: Scope | None = None,
    group_by: Sequence[str] = (),
    indicators: Sequence[str] | None = None,
) -> list[IndicatorRow]:
    """The indicators over W = [start, min(end, as_of)], one row per group; grouped by year,
    each year's row is computed on that year's part of W."""
    group_by = _checked_group_by(group_by)
    last_day = min(end, as_of)
    if "year" in group_by:
        windows = [Window(year, first, last) for year, first, last in Window(None, start, last_day).year_slices()]
    else:
        windows = [Window(None, start, last_day)]
    windows = [window for window in windows if window.start <= window.end]
    return _compute(
        session=session, windows=windows, scope=scope or Scope(), group_by=group_by, codes=_checked_codes(indicators)
    )


def compute_for_years(
    *,
    session: Session,
    years: Iterable[int],
    as_of: date,
    scope: Scope | None = None,
    group_by: Sequence[str] = (),
    indicators: Sequence[str] | None = None,
    every_group: bool = True,
) -> list[IndicatorRow]:
    """The indicators of each given year Y on [Y-01-01, min(Y-12-31, as_of)], grouped by year
    (added to `group_by` when missing); a year that starts after as_of has no row. With
    `every_group` false, a group whose only pathways in W were prescribed, answered or ended
    there may have no row when no asked figure counts them: the caller reads a missing row as
    `values_from(GroupTotals())`."""
    group_by = _checked_group_by(group_by)
    if "year" not in group_by:
        group_by = (*group_by, "year")
    windows = [
        Window(year, date(year, 1, 1), min(date(year, 12, 31), as_of))
        for year in sorted(set(years))
        if date(year, 1, 1) <= as_of
    ]
    return _compute(
        session=session,
        windows=windows,
        scope=scope or Scope(),
        group_by=group_by,
        codes=_checked_codes(indicators),
        every_group=every_group,
    )


def _checked_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    unknown = [key for key in group_by if key not in GROUP_KEYS]
    if unknown:
        raise ValueError(f"unknown group keys: {unknown}")
    return tuple(dict.fromkeys(group_by))


def _checked_codes(indicators: Sequence[str] | None) -> tuple[str, ...]:
    if indicators is None:
        return INDICATOR_CODES
    unknown = [code for code in indicators if code not in INDICATORS_BY_CODE]
    if unknown:
        raise ValueError(f"unknown indicators: {unknown}")
    return tuple(dict.fromkeys(indicators))


def _sort_key(key: tuple) -> tuple:
    # None first, then values; each position holds one type.
    return tuple((value is not None, value if value is not None else 0) for value in key)


def _compute(
    *,
    session: Session,
    windows: list[Window],
    scope: Scope,
    group_by: tuple[str, ...],
    codes: tuple[str, ...],
    every_group: bool = True,
) -> list[IndicatorRow]:
    keys = group_by
    closed = consolidated_years(session)
    if not windows:
        # Nothing is known yet (as_of before the period): the total row alone, empty.
        if keys:
            return []
        return [
            IndicatorRow(
                group={},
                values=values_from(GroupTotals(), codes),
                consolidated=False,
                counts=person_counts(GroupTotals()),
            )
        ]

    code_of = {}
    if "action" in keys:
        code_of["action"] = dict(session.execute(select(Action.id, Action.code)).all())
    if "family" in keys:
        code_of["family"] = dict(session.execute(select(Family.id, Family.code)).all())
    query = Query(scope=scope, keys=keys, windows=windows, indicators=codes, code_of=code_of, every_group=every_group)
    pathways = pathway_totals(session, query)
    conventions = convention_totals(session, query)
    activity = activity_totals(session, query)
    diagnostics = diagnostic_totals(session, query)
    hours = hours_totals(session, query)

    def project(key: tuple) -> tuple:
        return tuple(value for name, value in zip(keys, key) if name != "territory")

    row_keys = set(pathways) | set(diagnostics) | set(hours)
    if "territory" not in keys:
        # A convention running in W without its year's line makes its group's totals NC, not a row.
        row_keys |= {key for key, totals in conventions.items() if totals.lines} | set(activity)
    if keys == ():
        row_keys = {()}
    elif keys == ("year",):
        row_keys = {(window.year,) for window in windows}

    with_targets = "convention" in keys and ("year" in keys or windows[0].start.year == windows[0].end.year)
    targets = {}
    if with_targets:
        convention_ids = {key[keys.index("convention")] for key in row_keys}
        targets = convention_targets(session, convention_ids=convention_ids, years={w.end.year for w in windows})

    rows = []
    for key in sorted(row_keys, key=_sort_key):
        group = dict(zip(keys, key))
        totals = GroupTotals(
            pathways=pathways.get(key, PathwayTotals()),
            conventions=conventions.get(project(key), ConventionTotals()),
            activity=activity.get(project(key), {}),
            diagnostics=diagnostics.get(key, DiagnosticTotals()),
            hours=hours.get(key, HoursTotals()),
        )
        if "year" in keys:
            consolidated = group["year"] in closed
        else:
            consolidated = all(year in closed for year in range(windows[0].start.year, windows[0].end.year + 1))
        row = IndicatorRow(
            group=group, values=values_from(totals, codes), consolidated=consolidated, counts=person_counts(totals)
        )
        if with_targets:
            year = group["year"] if "year" in keys else windows[0].end.year
            row_targets = targets.get((group["convention"], year), {})
            row.targets = {code: row_targets[code] for code in codes if code in row_targets}
        rows.append(row)
    return rows
