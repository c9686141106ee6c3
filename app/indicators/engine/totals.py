"""Per-group totals, as the engine's queries return them, and the indicators computed from them."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from app.indicators.engine.framework import INDICATOR_CODES
from app.indicators.known import ratio
from app.pathways.models import ActivityMetric
from app.reference.diagnostic_dimensions import DIMENSION_CODES
from app.reference.indicators import BARRIER_RATE_PREFIX

ACTIVITY_METRICS: tuple[str, ...] = tuple(metric.value for metric in ActivityMetric)

Value = int | float | None


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
