"""The indicator engine: SPEC's indicators computed on demand, in SQL, for any scope and grouping.

Three GROUP BY queries do the counting, each one pass over its table:
- pathways (persons present, entries, exits by kind, prescriptions, days of stay, entry delays,
  hours thresholds),
- convention years (places, budgets, FSE, the occupancy denominator),
- activity records (one sum per metric);
Python only merges their per-group totals and divides.

Definitions (SPEC, "Indicators"): the window is W = [period start, min(period end, as_of)], days
counted inclusively. A pathway's stay is [entered_on, min(exited_on, as_of)], or [entered_on,
as_of] while it has no exit; a pathway entered after as_of has none. A cancelled pathway (a
prescription that never led to an entry) counts as a prescription only: no stay, entry or exit.
So do a refused, withdrawn or expired one (SPEC C7), which besides count as a decision on
`decided_on` (an acceptance too) and as a withdrawal or an expiry on the day it ended. A fourth
query counts the diagnostics assessed in W and, per dimension, those marking it a barrier; its
territory is the pathway's.

Territory is the one recorded with each pathway (SPEC C1), and convention years and activity
records have none. So the territory filter restricts pathways only, and a row grouped by
territory carries the convention-year and activity figures of the conventions in its other group keys, unsplit (the
same on each territory's row): an occupancy rate per territory is that territory's share of the
planned months, and the territory rates add up to the whole rate.

Which rows exist: with no group_by, one row; grouped by year only, one row per year of W;
otherwise one row per group that has something in W: a pathway whose stay meets W or that was
prescribed, entered, exited, answered, withdrawn or expired in W, a diagnostic assessed in W, a
convention year whose year meets W, or an activity record in W (when grouped by territory, only
pathways and diagnostics make rows, the other two having no territory). The bilan, which reads
a missing group as empty, asks for `every_group=False`: when all its figures are of stays, the
pathway query then reads only the pathways whose stay meets W.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, and_, case, distinct, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.catalogue.models import Action, Family
from app.conventions.models import Convention, ConventionYear
from app.esf.records.models import EMPLOYED_SITUATIONS, KNOWN_SITUATIONS, FollowUp
from app.indicators.known import counted_total, ratio
from app.indicators.sql import days_between, full_scan, greatest, least
from app.pathways import engagement, weekly_hours
from app.pathways.models import ActivityMetric, ActivityRecord, BeneficiaryEngagement, Diagnostic, EndedAs, Pathway
from app.periods.service import consolidated_years
from app.reference.diagnostic_dimensions import DIMENSION_CODES
from app.reference.exit_reasons import COMPLETED_REASONS, DURABLE_EMPLOYMENT_REASONS, DYNAMIC_REASONS
from app.reference.indicators import BARRIER_RATE_PREFIX, INDICATORS, INDICATORS_BY_CODE

# Group keys, valued by action code, family code, operator id, convention id, territory, year.
GROUP_KEYS: tuple[str, ...] = ("action", "family", "operator", "convention", "territory", "year")
INDICATOR_CODES: tuple[str, ...] = tuple(indicator.code for indicator in INDICATORS)
ACTIVITY_METRICS: tuple[str, ...] = tuple(metric.value for metric in ActivityMetric)

# The endings of a prescription that count on their day: withdrawals and expiries.
COUNTED_ENDINGS = (EndedAs.withdrawn.value, EndedAs.expired.value)

GroupValue = str | int | None
Value = int | float | None


@dataclass(frozen=True)
class Scope:
    """Which pathways and convention years count; an empty field does not filter."""

    actions: tuple[str, ...] = ()  # action codes
    family: str | None = None  # family code
    operator_id: int | None = None
    convention_id: int | None = None
    territory: str | None = None  # recorded on each pathway; restricts pathways only


@dataclass(frozen=True)
class Window:
    """A stretch of days computed as one: W, or one calendar year's part of it (`year` set)."""

    year: int | None
    start: date
    end: date

    def year_slices(self) -> list[tuple[int, date, date]]:
        """(year, first day, last day) of the window's part in each calendar year it meets."""
        return [
            (year, max(self.start, date(year, 1, 1)), min(self.end, date(year, 12, 31)))
            for year in range(self.start.year, self.end.year + 1)
        ]


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


# --- Per-group totals, as the three queries return them ---------------------------------------


@dataclass
class PathwayTotals:
    persons_present: int = 0
    entries: int = 0
    exits: int = 0
    dynamic_exits: int = 0
    durable_exits: int = 0
    business_creation_exits: int = 0
    completed_exits: int = 0
    prescriptions: int = 0
    stay_days: int = 0
    entry_delay_days: int = 0
    with_hours: int = 0  # pathways present in W with hours recorded
    hours_threshold_reached: int = 0
    decisions: int = 0  # accepted or refused in W
    refusals: int = 0
    decision_delay_days: int = 0
    withdrawals: int = 0
    expired: int = 0
    # Follow-ups six months after the exits in W (SPEC C9): with a known situation, in employment.
    follow_ups_known: int = 0
    follow_ups_employed: int = 0


@dataclass
class DiagnosticTotals:
    diagnostics: int = 0  # assessed in W
    barriers: dict[str, int] = field(default_factory=dict)  # dimension → diagnostics marking it a barrier


@dataclass
class ConventionTotals:
    places: int | None = None
    budget: Decimal | float | None = None
    budget_fse: Decimal | float | None = None
    # Σ places × months_per_place × days of (W ∩ year ∩ convention dates): 12 × the planned days;
    # None when a convention running in W has no line for its year.
    planned_place_days_x12: int | None = 0
    lines: int = 0  # the convention years behind these figures


@dataclass
class HoursTotals:
    """The contrat d'engagement on W's last day (SPEC C11): the group's persons in progress, those
    whose every pathway in progress has known hours (`counted`), their hours (all their pathways,
    in this group or not) and how many of them are below their target."""

    persons: int = 0
    counted: int = 0
    hours: float = 0.0
    below: int = 0


@dataclass
class GroupTotals:
    pathways: PathwayTotals = field(default_factory=PathwayTotals)
    hours: HoursTotals = field(default_factory=HoursTotals)
    conventions: ConventionTotals = field(default_factory=ConventionTotals)
    activity: dict[str, int] = field(default_factory=dict)
    diagnostics: DiagnosticTotals = field(default_factory=DiagnosticTotals)


def values_from(totals: GroupTotals, codes: Iterable[str] = INDICATOR_CODES) -> dict[str, Value]:
    """Each indicator from a group's totals; a rate or mean over nothing is None."""
    p, c = totals.pathways, totals.conventions
    budget = None if c.budget is None else round(float(c.budget), 2)

    computed: dict[str, Value] = {
        "places_funded": c.places,
        "budget": budget,
        "budget_fse": None if c.budget_fse is None else round(float(c.budget_fse), 2),
        "persons_present": p.persons_present,
        "entries": p.entries,
        "exits": p.exits,
        "prescriptions": p.prescriptions,
        "occupancy_rate": ratio(12 * p.stay_days, c.planned_place_days_x12),
        "dynamic_exit_rate": ratio(p.dynamic_exits, p.exits),
        "durable_employment_rate": ratio(p.durable_exits, p.exits),
        "business_creation_rate": ratio(p.business_creation_exits, p.exits),
        "completion_rate": ratio(p.completed_exits, p.exits),
        "hours_threshold_reached": p.hours_threshold_reached if p.with_hours else None,
        "mean_entry_delay_days": ratio(p.entry_delay_days, p.entries),
        "decisions": p.decisions,
        "refusal_rate": ratio(p.refusals, p.decisions),
        "mean_decision_delay_days": ratio(p.decision_delay_days, p.decisions),
        "withdrawals": p.withdrawals,
        "expired_prescriptions": p.expired,
        "cost_per_person": ratio(budget, p.persons_present),
        "cost_per_dynamic_exit": ratio(budget, p.dynamic_exits),
        "employment_6_months_rate": ratio(p.follow_ups_employed, p.follow_ups_known),
        "persons_in_progress": totals.hours.persons,
        "mean_weekly_hours": ratio(totals.hours.hours, totals.hours.counted),
        "persons_below_target": totals.hours.below,
        "share_below_target": ratio(totals.hours.below, totals.hours.counted),
    }
    for metric in ACTIVITY_METRICS:
        computed[metric] = totals.activity.get(metric)
    d = totals.diagnostics
    for dimension in DIMENSION_CODES:
        computed[f"{BARRIER_RATE_PREFIX}{dimension}"] = ratio(d.barriers.get(dimension, 0), d.diagnostics)
    return {code: computed[code] for code in codes}


# --- Statistical secrecy: the counts of persons the indicators' bases name ---------------------


def person_counts(totals: GroupTotals) -> dict[str, int]:
    """A group's counts by the names `Indicator.base` uses (app/reference/indicators.py): the
    pathway figures, `diagnostics` and `barriers_<dimension>`, the contrat d'engagement's persons."""
    counts = {name: value for name, value in vars(totals.pathways).items() if isinstance(value, int)}
    counts["diagnostics"] = totals.diagnostics.diagnostics
    counts["persons_in_progress"] = totals.hours.persons
    counts["persons_hours_counted"] = totals.hours.counted
    counts["persons_below_target"] = totals.hours.below
    for dimension in DIMENSION_CODES:
        counts[f"barriers_{dimension}"] = totals.diagnostics.barriers.get(dimension, 0)
    return counts


# --- The queries ----------------------------------------------------------------------------


class _Frame:
    """Rows of constants (window bounds) as SQL: bound literals when there is one row, so the
    predicates stay index-friendly; otherwise a small derived table that the query joins."""

    def __init__(self, rows: list[tuple], columns: dict[str, Any]):
        self.many = len(rows) > 1
        if self.many:
            selects = [
                select(*(literal(value, type_).label(name) for value, (name, type_) in zip(row, columns.items())))
                for row in rows
            ]
            self.table = union_all(*selects).subquery("frame")
            self.c = {name: self.table.c[name] for name in columns}
        else:
            self.table = None
            self.c = {name: literal(value, type_) for value, (name, type_) in zip(rows[0], columns.items())}

    def attach(self, statement, on):
        """Join the frame on `on`, or just filter on it when the frame is constants."""
        if self.many:
            return statement.join(self.table, on)
        return statement.where(on)


class _Query:
    """What the three queries share: scope filters and group columns over Convention.

    Rows are grouped by ids (action, family, operator, convention), never by codes: PostgreSQL
    sorts the pathway rows by their group before it counts distinct persons, and a sort on text
    keys costs several times one on integers. `group_key` turns the ids into codes afterwards."""

    def __init__(
        self,
        *,
        scope: Scope,
        keys: tuple[str, ...],
        windows: list[Window],
        indicators: tuple[str, ...] = INDICATOR_CODES,
        code_of: dict[str, dict[int, str]] | None = None,
        every_group: bool = True,
    ):
        self.scope = scope
        self.keys = keys
        self.windows = windows
        self.indicators = indicators  # the indicator codes asked for
        self.code_of = code_of or {}  # "action"/"family" → id → code
        # Whether a group with nothing but a prescription, an answer or an ending in W must have
        # its row (GET /indicators lists every group with something in W); a caller that reads a
        # missing group as empty (the bilan) lets the pathway query read only the pathways its
        # figures need.
        self.every_group = every_group
        self.needs_family = bool(scope.family)
        self.needs_action = bool(scope.actions) or self.needs_family or "family" in keys

    def sql_keys(self) -> list[str]:
        # `year` comes from the frame (several windows) or from Python (one window).
        return [key for key in self.keys if key != "year"]

    def key_expressions(self, pathway=None) -> list[Any]:
        """The SQL of each key; `pathway` is the columns of the pathways read (territory is theirs)."""
        columns = {
            "action": Convention.action_id,
            "family": Action.family_id,
            "operator": Convention.operator_id,
            "convention": Convention.id,
            "territory": pathway.territory if pathway is not None else None,
        }
        return [columns[key] for key in self.sql_keys()]

    def key_columns(self, pathway=None) -> list[Any]:
        expressions = self.key_expressions(pathway)
        return [expression.label(f"key_{key}") for key, expression in zip(self.sql_keys(), expressions)]

    def join_catalogue(self, statement):
        if self.needs_action:
            statement = statement.join(Action, Action.id == Convention.action_id)
        if self.needs_family:
            statement = statement.join(Family, Family.id == Action.family_id)
        return statement

    def scope_filters(self) -> list[Any]:
        filters = []
        if self.scope.actions:
            filters.append(Action.code.in_(sorted(self.scope.actions)))
        if self.scope.family is not None:
            filters.append(Family.code == self.scope.family)
        if self.scope.operator_id is not None:
            filters.append(Convention.operator_id == self.scope.operator_id)
        if self.scope.convention_id is not None:
            filters.append(Convention.id == self.scope.convention_id)
        return filters

    def group_key(self, row, year: int | None) -> tuple:
        """The row's key tuple in `keys` order, actions and families by their codes."""
        values = {key: getattr(row, f"key_{key}") for key in self.sql_keys()}
        for key, codes in self.code_of.items():
            if key in values:
                values[key] = codes[values[key]]
        if "year" in self.keys:
            values["year"] = year
        return tuple(values[key] for key in self.keys)


# The pathway figures (PathwayTotals fields) each indicator is computed from.
PATHWAY_FIGURES: dict[str, tuple[str, ...]] = {
    "persons_present": ("persons_present",),
    "entries": ("entries",),
    "exits": ("exits",),
    "prescriptions": ("prescriptions",),
    "occupancy_rate": ("stay_days",),
    "dynamic_exit_rate": ("dynamic_exits", "exits"),
    "durable_employment_rate": ("durable_exits", "exits"),
    "business_creation_rate": ("business_creation_exits", "exits"),
    "completion_rate": ("completed_exits", "exits"),
    "hours_threshold_reached": ("with_hours", "hours_threshold_reached"),
    "mean_entry_delay_days": ("entry_delay_days", "entries"),
    "cost_per_person": ("persons_present",),
    "cost_per_dynamic_exit": ("dynamic_exits",),
    "decisions": ("decisions",),
    "refusal_rate": ("refusals", "decisions"),
    "mean_decision_delay_days": ("decision_delay_days", "decisions"),
    "withdrawals": ("withdrawals",),
    "expired_prescriptions": ("expired",),
    "employment_6_months_rate": ("follow_ups_known", "follow_ups_employed"),
}
FOLLOW_UP_FIGURES = ("follow_ups_known", "follow_ups_employed")
# The figures that only pathways whose stay meets W add to: an entry or an exit in W lies within
# such a stay (an exit comes after its entry). The others count prescriptions, answers and
# endings, which pathways without a stay in W have too.
STAY_FIGURES = frozenset(
    {
        "persons_present",
        "entries",
        "exits",
        "dynamic_exits",
        "durable_exits",
        "business_creation_exits",
        "completed_exits",
        "stay_days",
        "entry_delay_days",
        "with_hours",
        "hours_threshold_reached",
        *FOLLOW_UP_FIGURES,
    }
)


def _pathway_totals(session: Session, query: _Query) -> dict[tuple, PathwayTotals]:
    """Per group: the pathway figures that the asked indicators need, and only those (each one is
    an expression evaluated on every pathway row of every window; the distinct counts, a sort)."""
    wanted = {name for code in query.indicators for name in PATHWAY_FIGURES.get(code, ())}
    if not wanted and set(query.keys) <= {"year"}:
        return {}  # nothing to count, and these rows exist whatever the pathways
    windows = query.windows
    frame = _Frame(
        [(w.year, w.start, w.end, w.end.year) for w in windows],
        {"year": Integer(), "ws": Date(), "we": Date(), "last_year": Integer()},
    )
    ws, we = frame.c["ws"], frame.c["we"]
    # A scope of one convention or operator reads few pathways: through the index. Anything wider
    # reads most of them: in one sequential pass.
    narrow = query.scope.convention_id is not None or query.scope.operator_id is not None
    pathways = Pathway.__table__ if narrow else full_scan(Pathway.__table__)
    p = pathways.c
    threshold_year = aliased(ConventionYear)

    not_cancelled = p.cancelled_on.is_(None)
    stay_meets = and_(
        not_cancelled,
        p.entered_on.is_not(None),
        p.entered_on <= we,  # W ends on or before as_of: the pathway had entered by then
        or_(p.exited_on.is_(None), p.exited_on >= ws),
    )
    prescribed_in = and_(p.prescribed_on >= ws, p.prescribed_on <= we)
    decided_in = and_(p.decided_on >= ws, p.decided_on <= we)
    # Withdrawals and expiries count on the day the prescription ended (its cancelled_on).
    ended_in = and_(p.ended_as.in_(COUNTED_ENDINGS), p.cancelled_on >= ws, p.cancelled_on <= we)
    # The rows counted are those of the pathways whose stay meets W or that were prescribed,
    # answered, withdrawn or expired in W.
    # Among them, the schema's CHECKs (an entry after its prescription and never with a
    # cancellation, an exit after its entry) make an entry on or before W's end mean "the stay
    # meets W", and an entry or exit date mean "not cancelled": each figure tests a date or two
    # instead of the four conditions again, on every row of every window.
    in_stay = p.entered_on <= we
    entered_in = and_(p.entered_on >= ws, p.entered_on <= we)
    exited_in = and_(p.exited_on >= ws, p.exited_on <= we)
    # stay ∩ W; W ends on or before as_of, so an exit after as_of is cut at W's end.
    stay_end = least(func.coalesce(p.exited_on, we), we)
    stay_start = greatest(p.entered_on, ws)

    def exits_with(reasons: Iterable[str]):
        return func.count().filter(and_(exited_in, p.exit_reason.in_(sorted(reasons))))

    follow_up = FollowUp.__table__.c

    figures = {
        "persons_present": func.count(distinct(p.person_key)).filter(in_stay),
        "entries": func.count().filter(entered_in),
        "exits": func.count().filter(exited_in),
        "dynamic_exits": exits_with(DYNAMIC_REASONS),
        "durable_exits": exits_with(DURABLE_EMPLOYMENT_REASONS),
        "business_creation_exits": exits_with({"business_creation"}),
        "completed_exits": exits_with(COMPLETED_REASONS),
        "prescriptions": func.count().filter(prescribed_in),
        "stay_days": func.sum(days_between(stay_end, stay_start) + 1).filter(in_stay),
        "entry_delay_days": func.sum(days_between(p.entered_on, p.prescribed_on)).filter(entered_in),
        "with_hours": func.count().filter(and_(in_stay, p.hours.is_not(None))),
        "hours_threshold_reached": func.count(distinct(p.person_key)).filter(
            and_(in_stay, p.hours >= threshold_year.hours_threshold)
        ),
        "decisions": func.count().filter(decided_in),
        "refusals": func.count().filter(and_(decided_in, p.decision == "refused")),
        "decision_delay_days": func.sum(days_between(p.decided_on, p.prescribed_on)).filter(decided_in),
        "withdrawals": func.count().filter(and_(ended_in, p.ended_as == "withdrawn")),
        "expired": func.count().filter(and_(ended_in, p.ended_as == "expired")),
        "follow_ups_known": func.count().filter(and_(exited_in, follow_up.situation.in_(sorted(KNOWN_SITUATIONS)))),
        "follow_ups_employed": func.count().filter(
            and_(exited_in, follow_up.situation.in_(sorted(EMPLOYED_SITUATIONS)))
        ),
    }
    statement = select(
        *query.key_columns(p),
        *([frame.c["year"].label("window_year")] if frame.many else []),
        *(figure.label(name) for name, figure in figures.items() if name in wanted),
    ).select_from(pathways)
    statement = statement.join(Convention, Convention.id == p.convention_id)
    statement = query.join_catalogue(statement)
    statement = statement.where(*query.scope_filters())
    # The bilan's figures are all of stays: reading only the pathways whose stay meets W spares the
    # OR of four date ranges on every row and window, and the rows it would add to the sort.
    stays_only = not query.every_group and wanted <= STAY_FIGURES
    if frame.many:
        # Constant bounds over all the windows, which the planner can use before the join.
        first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
        stay_bound = and_(not_cancelled, p.entered_on <= last_day, or_(p.exited_on.is_(None), p.exited_on >= first_day))
        statement = statement.where(
            stay_bound
            if stays_only
            else or_(
                and_(p.prescribed_on >= first_day, p.prescribed_on <= last_day),
                stay_bound,
                and_(p.decided_on >= first_day, p.decided_on <= last_day),
                and_(p.ended_as.in_(COUNTED_ENDINGS), p.cancelled_on >= first_day, p.cancelled_on <= last_day),
            )
        )
    if query.scope.territory is not None:
        statement = statement.where(p.territory == query.scope.territory)
    # Every pathway with something in W: an entry or an exit in W lies within a stay that meets W
    # (an exit comes after its entry), so these two conditions cover them all.
    statement = frame.attach(
        statement, stay_meets if stays_only else or_(stay_meets, prescribed_in, decided_in, ended_in)
    )
    if wanted & set(FOLLOW_UP_FIGURES):
        # At most one follow-up per pathway: the join adds columns, never rows.
        statement = statement.outerjoin(FollowUp.__table__, follow_up.pathway_id == p.id)
    if "hours_threshold_reached" in wanted:
        # The hours threshold is that of the convention's year of W's last day.
        statement = statement.outerjoin(
            threshold_year,
            and_(threshold_year.convention_id == p.convention_id, threshold_year.year == frame.c["last_year"]),
        )
    group_columns = query.key_expressions(p)
    if frame.many:
        group_columns.append(frame.c["year"])
    if group_columns:
        statement = statement.group_by(*group_columns)

    totals: dict[tuple, PathwayTotals] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else windows[0].year
        # A sum over no row is NULL; the figures not asked for stay 0.
        totals[query.group_key(row, year)] = PathwayTotals(**{name: int(getattr(row, name) or 0) for name in wanted})
    return totals


def _convention_totals(session: Session, query: _Query) -> dict[tuple, ConventionTotals]:
    """Per group without territory: the figures of the conventions whose dates meet W, each by
    its line of the year. A convention that runs in a year of W without a line for that year has
    unknown places, budget and planned months there, so the group's totals are NC (SPEC C13)."""
    slices = [(w.year, year, first, last) for w in query.windows for year, first, last in w.year_slices()]
    frame = _Frame(slices, {"window_year": Integer(), "year": Integer(), "first": Date(), "last": Date()})
    cy = ConventionYear
    overlap_end = least(frame.c["last"], Convention.end_on)
    overlap_start = greatest(frame.c["first"], Convention.start_on)
    overlap_days = case((overlap_end >= overlap_start, days_between(overlap_end, overlap_start) + 1), else_=0)

    keyed = _without_territory(query)
    key_columns = keyed.key_columns()
    statement = select(
        *key_columns,
        *([frame.c["window_year"].label("window_year")] if frame.many else []),
        func.count().label("parts"),
        func.count(cy.convention_id).label("lines"),
        func.sum(cy.places).label("places"),
        func.count(cy.places).label("known_places"),
        func.count(cy.budget).label("known_budgets"),
        func.sum(cy.budget).label("budget"),
        func.count(cy.fse_amount).label("known_fse"),
        func.sum(cy.fse_amount).label("budget_fse"),
        func.coalesce(func.sum(func.coalesce(cy.places, 0) * cy.months_per_place * overlap_days), 0).label("planned"),
    ).select_from(Convention)
    statement = keyed.join_catalogue(statement)
    statement = statement.where(*keyed.scope_filters())
    # A convention counts in a slice when it has a line for the slice's year, or when it runs
    # then (its dates meet the slice) and so should have one.
    has_line = aliased(ConventionYear)
    runs = and_(Convention.start_on <= frame.c["last"], Convention.end_on >= frame.c["first"])
    lined = select(has_line.id).where(has_line.convention_id == Convention.id, has_line.year == frame.c["year"])
    statement = frame.attach(statement, or_(runs, lined.exists()))
    statement = statement.outerjoin(cy, and_(cy.convention_id == Convention.id, cy.year == frame.c["year"]))
    group_columns = keyed.key_expressions()
    if frame.many:
        group_columns.append(frame.c["window_year"])
    statement = statement.group_by(*group_columns)

    totals: dict[tuple, ConventionTotals] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else query.windows[0].year
        lines, parts = int(row.lines), int(row.parts)
        totals[keyed.group_key(row, year)] = ConventionTotals(
            # A line without places (funded by budget alone) adds none; a missing line is unknown.
            places=None if lines < parts or not row.known_places else int(row.places),
            budget=counted_total(row.budget, known=int(row.known_budgets), expected=parts),
            budget_fse=counted_total(row.budget_fse, known=int(row.known_fse), expected=parts),
            planned_place_days_x12=int(row.planned) if lines == parts else None,
            lines=lines,
        )
    return totals


def _activity_totals(session: Session, query: _Query) -> dict[tuple, dict[str, int]]:
    """Per group without territory: Σ quantity of each metric reported in W."""
    windows = query.windows
    frame = _Frame([(w.year, w.start, w.end) for w in windows], {"year": Integer(), "ws": Date(), "we": Date()})
    record = ActivityRecord
    keyed = _without_territory(query)
    key_columns = keyed.key_columns()
    statement = select(
        *key_columns,
        *([frame.c["year"].label("window_year")] if frame.many else []),
        record.metric.label("metric"),
        func.sum(record.quantity).label("quantity"),
    ).select_from(record)
    statement = statement.join(Convention, Convention.id == record.convention_id)
    statement = keyed.join_catalogue(statement)
    first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
    statement = statement.where(*keyed.scope_filters(), record.recorded_on >= first_day, record.recorded_on <= last_day)
    statement = frame.attach(statement, and_(record.recorded_on >= frame.c["ws"], record.recorded_on <= frame.c["we"]))
    group_columns = [*keyed.key_expressions(), record.metric]
    if frame.many:
        group_columns.append(frame.c["year"])
    statement = statement.group_by(*group_columns)

    totals: dict[tuple, dict[str, int]] = {}
    for row in session.execute(statement):
        year = row.window_year if frame.many else windows[0].year
        totals.setdefault(keyed.group_key(row, year), {})[row.metric] = int(row.quantity)
    return totals


def _diagnostic_totals(session: Session, query: _Query) -> dict[tuple, DiagnosticTotals]:
    """Per group (territory: the pathway's): the diagnostics assessed in W, and per dimension
    those that mark it a barrier. Run whenever rows are grouped, a group with a diagnostic in W
    having something in W, as for the other queries; otherwise only when a barrier rate is asked."""
    wanted = any(code.startswith(BARRIER_RATE_PREFIX) for code in query.indicators)
    if not wanted and set(query.keys) <= {"year"}:
        return {}
    windows = query.windows
    frame = _Frame([(w.year, w.start, w.end) for w in windows], {"year": Integer(), "ws": Date(), "we": Date()})
    d = Diagnostic.__table__.c
    p = Pathway.__table__.c
    statement = select(
        *query.key_columns(p),
        *([frame.c["year"].label("window_year")] if frame.many else []),
        func.count().label("diagnostics"),
        *(func.count().filter(d[code] == "barrier").label(code) for code in DIMENSION_CODES),
    ).select_from(Diagnostic.__table__)
    statement = statement.join(Pathway.__table__, p.id == d.pathway_id)
    statement = statement.join(Convention, Convention.id == p.convention_id)
    statement = query.join_catalogue(statement)
    first_day, last_day = min(w.start for w in windows), max(w.end for w in windows)
    statement = statement.where(*query.scope_filters(), d.assessed_on >= first_day, d.assessed_on <= last_day)
    if query.scope.territory is not None:
        statement = statement.where(p.territory == query.scope.territory)
    statement = frame.attach(statement, and_(d.assessed_on >= frame.c["ws"], d.assessed_on <= frame.c["we"]))
    group_columns = query.key_expressions(p)
    if frame.many:
        group_columns.append(frame.c["year"])
    if group_columns:
        statement = statement.group_by(*group_columns)
    totals: dict[tuple, DiagnosticTotals] = {}
    for row in session.execute(statement):
        if not row.diagnostics:
            continue  # no group: the one row of an aggregate over nothing
        year = row.window_year if frame.many else windows[0].year
        totals[query.group_key(row, year)] = DiagnosticTotals(
            diagnostics=int(row.diagnostics), barriers={code: int(getattr(row, code)) for code in DIMENSION_CODES}
        )
    return totals


HOURS_INDICATORS = frozenset({"persons_in_progress", "mean_weekly_hours", "persons_below_target", "share_below_target"})


def _hours_totals(session: Session, query: _Query) -> dict[tuple, HoursTotals]:
    """Per group, on each window's last day D (SPEC C11): the persons with a pathway in progress
    on D in the group, each with the effective weekly hours of all their pathways in progress on D
    (app/pathways/weekly_hours.py) and their target on D (app/pathways/engagement.py). One query
    per window: the persons' totals, their (group, person) pairs, grouped."""
    if not HOURS_INDICATORS & set(query.indicators):
        return {}
    default = engagement.default_target()
    totals: dict[tuple, HoursTotals] = {}
    for window in query.windows:
        day = window.end
        in_progress = (
            select(Pathway.person_key.label("person_key"), weekly_hours.effective_sql().label("hours"))
            .join(Convention, Convention.id == Pathway.convention_id)
            .where(engagement.in_progress_sql(day))
            .subquery("in_progress")
        )
        per_person = (
            select(
                in_progress.c.person_key,
                func.sum(in_progress.c.hours).label("hours"),
                (func.count() - func.count(in_progress.c.hours)).label("unknown"),
            )
            .group_by(in_progress.c.person_key)
            .subquery("per_person")
        )
        pairs = select(*query.key_columns(Pathway), Pathway.person_key.label("person_key")).distinct()
        pairs = query.join_catalogue(
            pairs.select_from(Pathway).join(Convention, Convention.id == Pathway.convention_id)
        )
        pairs = pairs.where(*query.scope_filters(), engagement.in_progress_sql(day))
        if query.scope.territory is not None:
            pairs = pairs.where(Pathway.territory == query.scope.territory)
        pairs = pairs.subquery("pairs")
        target_row = BeneficiaryEngagement.__table__.c
        known = per_person.c.unknown == 0
        below = and_(known, per_person.c.hours < engagement.target_sql(target_row, day, default))
        keys = [pairs.c[f"key_{key}"] for key in query.sql_keys()]
        statement = (
            select(
                *keys,
                func.count().label("persons"),
                func.count().filter(known).label("counted"),
                func.sum(per_person.c.hours).filter(known).label("hours"),
                func.count().filter(below).label("below"),
            )
            .select_from(pairs)
            .join(per_person, per_person.c.person_key == pairs.c.person_key)
            .outerjoin(BeneficiaryEngagement.__table__, target_row.beneficiary_id == pairs.c.person_key)
        )
        if keys:
            statement = statement.group_by(*keys)
        for row in session.execute(statement):
            if not row.persons:
                continue  # no group: the one row of an aggregate over nothing
            totals[query.group_key(row, window.year)] = HoursTotals(
                persons=int(row.persons), counted=int(row.counted), hours=float(row.hours or 0), below=int(row.below)
            )
    return totals


def _without_territory(query: _Query) -> _Query:
    return _Query(
        scope=query.scope,
        keys=tuple(key for key in query.keys if key != "territory"),
        windows=query.windows,
        indicators=query.indicators,
        code_of=query.code_of,
        every_group=query.every_group,
    )


def _targets(session: Session, *, convention_ids: set[int], years: set[int]) -> dict[tuple[int, int], dict]:
    if not convention_ids or not years:
        return {}
    rows = session.execute(
        select(ConventionYear.convention_id, ConventionYear.year, ConventionYear.targets).where(
            ConventionYear.convention_id.in_(sorted(convention_ids)),
            ConventionYear.year.in_(sorted(years)),
        )
    )
    return {(row.convention_id, row.year): row.targets or {} for row in rows}


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
    query = _Query(scope=scope, keys=keys, windows=windows, indicators=codes, code_of=code_of, every_group=every_group)
    pathways = _pathway_totals(session, query)
    conventions = _convention_totals(session, query)
    activity = _activity_totals(session, query)
    diagnostics = _diagnostic_totals(session, query)
    hours = _hours_totals(session, query)

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
        targets = _targets(session, convention_ids=convention_ids, years={w.end.year for w in windows})

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
