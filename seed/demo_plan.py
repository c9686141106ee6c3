"""The demo data set's plan: synthetic beneficiaries, pathways and activity counts for 2018–2020
whose bilan reproduces the tables of the département's review (shared/seeds/bilan-pdi-2019-2021.md).

Pure Python and deterministic: it reads nothing but the catalogue it is given (`plan_demo`) and
returns rows (`copy_rows`); seed/demo.py reads the catalogue and writes the rows (`pdi demo`).

On a database holding the seed catalogue (seed/loader.py) and this data set,
GET /api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31 shows every figure of the document's
tables: counts and euros exactly, rates as the document prints them (to the whole percent,
half up), "NC" as null; 2018 and 2019 consolidated. That holds at scale 1 only: `scale=N`
repeats each synthetic person's pathways N times with distinct beneficiaries (N times the
counts and the occupancy), for load tests.

How the figures are reached (all with one fixed random seed, so two runs give the same rows):
- The document's figures (TARGETS) become, per action and year, targets on the pathways:
  persons present, days of stay (the occupancy rate × the person-days its convention years plan,
  read from the database: places × months_per_place / 12 × days of the year), exits, and for
  each rate the number of exits whose reason counts.
- `ActionPlanner` walks an action's years in order. A year's persons are the stays carried over
  from the year before plus new entries; it chooses how many are still there on 31 December
  (carried into the next year, or still open at the end of 2020), then solves for the dates:
  each exit date, entry date and length is a random position in its allowed range, and one
  parameter pushes all positions together (lengths first, then entry dates) until the days of
  stay add up exactly (bisection, then a few one-day nudges).
- Exit reasons are dealt per action and year so that each rate's numerator is exact, longer stays
  getting the better outcomes. AI/ETTI hours: exactly the document's number of persons reach
  their convention's threshold in 2018 and 2019, and no pathway present in 2020 has hours (the
  document's "NC").
- Activity counts of Depart'Mobilité are spread over the months; 2018 and 2019 are consolidated.

Allowed stay lengths are the action's min/max duration (PROFILES gives one where the catalogue has
none). Three deliberate departures, all plausible and each needed by a figure: a stay of n months
may end within the week after them (a one-month Depart'Numérique needs 33 days a person in 2018
with months_per_place already at its minimum, 1); in 2020 a stay may last up to 3 months longer
(the lockdowns interrupted pathways; Depart'Parcours and Depart'Numérique need 55 and 89 days a
person); and an AI/ETTI pathway may end after 3 months (a job found, a move) although its nominal
minimum is 12: the conventions start on 1 January 2018, so without early exits nobody could leave
in 2018, and the document has 2018 exit rates.
"""

import math
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from app.core.security import pseudonymise
from app.pathways.models import ActivityMetric
from app.reference.exit_reasons import EXIT_REASONS_BY_CODE

DEMO_SEED = 20191231
YEARS = (2018, 2019, 2020)
EDITION = date(2020, 12, 31)  # the bilan's as-of date: nothing happens after it
REF_PREFIX = "DEMO-"
MONTH_DAYS = 30.44
LOCKDOWN_STRETCH_DAYS = 92  # 2020: a stay may last up to 3 months longer than nominal
# A stay of n months ends within the week after them (the last session, the restitution): a
# one-month Depart'Numérique lasts up to 5 weeks, which its 2018–2019 occupancy needs.
MAX_LENGTH_GRACE_DAYS = 7
RENEWAL = 0.85  # at most this share of a year's persons are carried over from the year before
CONSOLIDATED = {2018: datetime(2019, 4, 2, 9, 0, tzinfo=UTC), 2019: datetime(2020, 3, 31, 9, 0, tzinfo=UTC)}

# --- the document's figures -------------------------------------------------------------------
# action number → what the demo must produce, per year. Rates are the printed whole percents;
# None is the document's "NC". Places and budgets come from the seed catalogue, not from here.
TARGETS: dict[int, dict[str, dict[int, int | None]]] = {
    1: {"persons_present": {2018: 1759, 2019: 1475}},
    2: {
        "persons_present": {2018: 301, 2019: 284, 2020: 204},
        "occupancy_rate": {2018: 85, 2019: 86, 2020: 96},
        "exits": {2018: 89, 2019: 128, 2020: 76},
    },
    3: {
        "persons_present": {2018: 775, 2019: 901, 2020: 548},
        "occupancy_rate": {2018: 114, 2019: 76, 2020: 88},
        "completion_rate": {2018: 93, 2019: 92, 2020: 91},
    },
    4: {
        "persons_present": {2019: 524, 2020: 442},
        "occupancy_rate": {2019: 84, 2020: 117},
        "dynamic_exit_rate": {2019: 62, 2020: 70},
        "durable_employment_rate": {2019: 15, 2020: 10},
    },
    5: {
        "persons_present": {2018: 291, 2019: 316, 2020: 295},
        "occupancy_rate": {2018: 56, 2019: 79, 2020: 93},
        "vehicle_rental_days": {2018: 636, 2019: 1858, 2020: 1696},
        "licence_registrations": {2018: None, 2019: 24, 2020: 23},
        "licences_obtained": {2018: None, 2019: 11, 2020: 13},
    },
    6: {
        "persons_present": {2018: 102, 2019: 124, 2020: 52},
        "occupancy_rate": {2018: 56, 2019: 67, 2020: 76},
    },
    7: {
        "persons_present": {2018: 17, 2019: 16, 2020: 15},
        "occupancy_rate": {2018: 98, 2019: 98, 2020: 129},
    },
    8: {
        "occupancy_rate": {2018: 97, 2019: 94, 2020: 108},
        "dynamic_exit_rate": {2018: 51, 2019: 53, 2020: 47},
        "durable_employment_rate": {2018: 12, 2019: 13, 2020: 11},
    },
    9: {
        "hours_threshold_reached": {2018: 69, 2019: 51, 2020: None},
        "dynamic_exit_rate": {2018: 64, 2019: 55, 2020: 43},
        "durable_employment_rate": {2018: 18, 2019: 17, 2020: 11},
    },
    10: {
        "persons_present": {2018: 437, 2019: 513, 2020: 455},
        "occupancy_rate": {2018: 46, 2019: 56, 2020: 109},
        "dynamic_exit_rate": {2018: 48, 2019: 55, 2020: 52},
        "durable_employment_rate": {2018: 16, 2019: 21, 2020: 16},
    },
    11: {
        "persons_present": {2018: 138, 2019: 162, 2020: 122},
        "occupancy_rate": {2018: 77, 2019: 76, 2020: 130},
        "dynamic_exit_rate": {2018: 57, 2019: 32, 2020: 41},
        "business_creation_rate": {2018: 53, 2019: 24, 2020: 32},
    },
}
RATE_CODES = ("business_creation_rate", "durable_employment_rate", "dynamic_exit_rate", "completion_rate")
ACTIVITY_CODES = tuple(metric.value for metric in ActivityMetric)

# --- how each action's people and pathways look ------------------------------------------------
DURABLE = ("employment_cdi", "employment_cdd_over_6m", "business_creation", "civil_service")
DYNAMIC_ONLY = ("employment_short", "iae_contract", "training", "insertion_action")
NOT_COMPLETED = ("reoriented", "dropped_out", "moved", "health", "rsa_ended", "other")


@dataclass(frozen=True)
class Profile:
    durations: tuple[int, int] | None = None  # months, when the catalogue gives none
    early_exit_months: int | None = None  # an exit may come this early (below the minimum)
    # share of exits when the document gives no rate: dynamic ⊇ durable; completed ⊇ dynamic
    dynamic: float = 0.4
    durable: float = 0.1
    completed: float = 0.6
    business_in_durable: float = 0.05
    durable_weights: tuple[float, ...] = (3, 4, 0.3, 0.5)  # as DURABLE, business creation third
    dynamic_weights: tuple[float, ...] = (4, 2, 3, 3)  # as DYNAMIC_ONLY
    not_completed_weights: tuple[float, ...] = (3, 3, 1, 2, 2, 1)  # as NOT_COMPLETED
    entry_delay_days: tuple[int, int, int] = (3, 14, 60)  # prescription → entry: low, mode, high
    household: str | None = None  # everyone's, when the action is for one kind of household
    self_employed: float = 0.0


PROFILES: dict[int, Profile] = {
    # référent RSA for single people without children: a follow-up of months to years
    1: Profile(
        (6, 36),
        dynamic=0.3,
        durable=0.08,
        completed=0.5,
        household="single_no_child",
        not_completed_weights=(4, 2, 2, 2, 3, 1),
    ),
    # self-employed people; many are redirected to Pôle emploi or leave the RSA
    2: Profile(
        (6, 36),
        dynamic=0.25,
        durable=0.12,
        completed=0.35,
        business_in_durable=0.0,
        not_completed_weights=(6, 2, 1, 1, 4, 1),
        self_employed=1.0,
    ),
    # a one-month diagnostic that leads to another insertion action
    3: Profile(dynamic=0.55, durable=0.02, dynamic_weights=(1, 1, 2, 6), not_completed_weights=(2, 5, 1, 2, 0, 1)),
    4: Profile(dynamic_weights=(3, 3, 4, 4), not_completed_weights=(2, 3, 1, 3, 1, 1), entry_delay_days=(7, 30, 62)),
    5: Profile((3, 36), dynamic=0.45, durable=0.15, completed=0.7),
    6: Profile(dynamic=0.25, durable=0.03, completed=0.75, dynamic_weights=(2, 0, 3, 4), entry_delay_days=(5, 21, 62)),
    # maisons relais: long stays, few departures
    7: Profile(
        (6, 72), dynamic=0.2, durable=0.05, completed=0.6, household="single_no_child", dynamic_weights=(1, 1, 1, 5)
    ),
    8: Profile(dynamic_weights=(4, 2, 3, 1)),
    9: Profile(early_exit_months=3, dynamic_weights=(6, 2, 2, 1)),
    10: Profile((3, 24), dynamic_weights=(5, 1, 2, 1), durable_weights=(4, 5, 0.3, 0.5)),
    11: Profile((3, 24), durable_weights=(1, 1, 0, 0.2), dynamic_weights=(2, 0, 2, 1), self_employed=0.35),
}
HOUSEHOLDS = {"single_no_child": 45, "single_with_children": 28, "couple_no_child": 9, "couple_with_children": 18}
CANCEL_REASONS = (
    "Personne injoignable",
    "Refus de la personne",
    "Reprise d'emploi avant l'entrée",
    "Orientation vers une autre action",
    "Déménagement",
)


class DemoInfeasible(ValueError):
    """The document's figures cannot be reached with the catalogue's conventions."""


# --- what the generator reads from the database ------------------------------------------------


@dataclass(frozen=True)
class YearLine:
    places: int | None
    months_per_place: int
    budget: Decimal | None
    hours_threshold: int | None


@dataclass(frozen=True)
class SiteInfo:
    id: int
    territory: str | None
    insee_code: str | None


@dataclass(frozen=True)
class ConventionInfo:
    id: int
    reference: str
    start: int  # date ordinals
    end: int
    years: dict[int, YearLine]
    sites: tuple[SiteInfo, ...]

    def window(self, year: int) -> tuple[int, int] | None:
        """The convention's days in `year`, as ordinals (first, last), or None."""
        first = max(self.start, date(year, 1, 1).toordinal())
        last = min(self.end, date(year, 12, 31).toordinal())
        return (first, last) if first <= last else None

    def planned_days(self, year: int) -> float:
        """places × months_per_place / 12 × its days in the year: the occupancy denominator."""
        line, window = self.years.get(year), self.window(year)
        if line is None or not line.places or window is None:
            return 0.0
        return line.places * line.months_per_place / 12 * (window[1] - window[0] + 1)


@dataclass(frozen=True)
class ActionInfo:
    number: int
    code: str
    min_months: int | None
    max_months: int | None
    conventions: tuple[ConventionInfo, ...]


# --- small arithmetic -------------------------------------------------------------------------


def percent_half_up(count: int, total: int) -> int:
    """round(100 × count / total) with halves rounded up, in exact integer arithmetic."""
    return (200 * count + total) // (2 * total)


def counts_for_percent(percent: int, total: int) -> list[int]:
    """Every count whose share of `total` prints as `percent`, best (nearest the centre) first."""
    if total <= 0:
        return []
    centre = percent * total / 100
    low, high = math.floor((percent - 0.5) * total / 100), math.ceil((percent + 0.5) * total / 100)
    candidates = [k for k in range(max(0, low), min(total, high) + 1) if percent_half_up(k, total) == percent]
    return sorted(candidates, key=lambda k: abs(k - centre))


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """`total` whole units shared in proportion to `weights` (ties to the first)."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * weight / weight_sum for weight in weights]
    shares = [int(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def year_bounds(year: int) -> tuple[int, int]:
    return date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()


def months_to_days(months: float) -> int:
    return round(months * MONTH_DAYS)


# Entries are rare on weekends, in August, at Christmas and during the 2020 lockdowns.
LOCKDOWNS = ((date(2020, 3, 17), date(2020, 5, 10), 0.15), (date(2020, 10, 30), date(2020, 12, 14), 0.6))


def entry_weight(day: date) -> float:
    if day.weekday() >= 5:
        return 0.03
    weight = 0.5 if day.month == 8 else 1.0
    if (day.month, day.day) >= (12, 22) or (day.month, day.day) <= (1, 2):
        weight = 0.2
    for start, end, lockdown_weight in LOCKDOWNS:
        if start <= day <= end:
            weight = min(weight, lockdown_weight)
    return weight


@lru_cache(maxsize=512)
def _entry_calendar(first: int, last: int) -> tuple[list[float], list[float]]:
    weights = [entry_weight(date.fromordinal(day)) for day in range(first, last + 1)]
    cumulative = [0.0]
    for weight in weights:
        cumulative.append(cumulative[-1] + weight)
    return weights, cumulative


def entry_day(first: int, last: int, position: float) -> float:
    """The day (fractional) at `position` ∈ [0, 1] of the entries between first and last."""
    weights, cumulative = _entry_calendar(first, last)
    target = position * cumulative[-1]
    k = min(len(weights) - 1, max(0, bisect_right(cumulative, target) - 1))
    return min(float(last), first + k + (target - cumulative[k]) / weights[k])


# --- planning the stays of one action -----------------------------------------------------------


@dataclass
class Stay:
    """One pathway that was entered, as planned: dates are ordinals; exited None = still open."""

    action: int
    convention: ConventionInfo
    entered: int
    intended: int  # the length (days) it would naturally have had; decides who stays on
    exited: int | None = None
    exit_reason: str | None = None
    hours: float | None = None

    def present_in(self, year: int) -> bool:
        first, last = year_bounds(year)
        return self.entered <= last and (self.exited is None or self.exited >= first)

    def length(self, edition: int) -> int:
        return (self.exited if self.exited is not None else edition) - self.entered


@dataclass
class _YearTargets:
    persons: int  # the document's, or an estimate when it gives none (then `persons_free`)
    persons_free: bool
    days: int | None  # exact person-days of stay wanted, None when free
    exits: int | None
    exit_counts_ok: Callable[[int], bool]
    min_exits: int = 0


class ActionPlanner:
    """Plans an action's stays over YEARS so that each year's targets are met exactly."""

    TAU = 1.5  # lengths move alone until |θ| reaches TAU, then entry dates move too
    MAX_ATTEMPTS = 4000
    CANDIDATES = 60

    def __init__(self, action: ActionInfo, targets: dict[str, dict[int, int | None]], profile: Profile):
        self.action = action
        self.targets = targets
        self.profile = profile
        low, high = action.min_months, action.max_months
        if low is None or high is None:
            low, high = profile.durations or (1, 12)
        self.min_len = max(1, months_to_days(low) - 2)
        self.max_len = months_to_days(high) + MAX_LENGTH_GRACE_DAYS
        self.floor_len = months_to_days(profile.early_exit_months) - 2 if profile.early_exit_months else self.min_len
        self.typical_len = months_to_days(math.sqrt(low * high))
        self.years = [year for year in YEARS if any(c.window(year) for c in action.conventions)]
        self.attempts = 0
        self.year_targets = self._year_targets()

    # targets ------------------------------------------------------------------------------

    def planned_days(self, year: int) -> float:
        return sum(convention.planned_days(year) for convention in self.action.conventions)

    def _year_targets(self) -> dict[int, _YearTargets]:
        result = {}
        previous_persons = None
        for year in self.years:
            planned = self.planned_days(year)
            occupancy = self.targets.get("occupancy_rate", {}).get(year)
            days = math.floor(occupancy * planned / 100 + 0.5) if occupancy is not None else None
            persons = self.targets.get("persons_present", {}).get(year)
            persons_free = persons is None
            if persons_free:
                year_days = year_bounds(year)[1] - year_bounds(year)[0] + 1
                typical = year_days * self.typical_len / (year_days + self.typical_len)
                if days is not None:
                    persons = round(days / typical)
                elif planned:
                    persons = round(0.85 * planned / typical)
                else:
                    persons = round(0.9 * previous_persons) if previous_persons else 100
            rates = {
                code: self.targets[code][year]
                for code in RATE_CODES
                if self.targets.get(code, {}).get(year) is not None
            }

            def exit_counts_ok(total: int, rates=rates) -> bool:
                return not rates or all(counts_for_percent(percent, total) for percent in rates.values())

            result[year] = _YearTargets(
                persons,
                persons_free,
                days,
                self.targets.get("exits", {}).get(year),
                exit_counts_ok,
                self._min_exits(year),
            )
            previous_persons = persons
        return result

    def _min_exits(self, year: int) -> int:
        """AI/ETTI: the persons who reach their hours threshold are among the pathways that ended by
        31 December 2019 (none present in 2020 has hours), so enough must end: those counted in the
        last year with hours must have left that year (a quarter more, to choose from), and part of
        those counted the year before, in it."""
        reached = self.targets.get("hours_threshold_reached", {})
        if not reached.get(year):
            return 0
        if not reached.get(year + 1):
            return math.ceil(1.25 * reached[year])
        return math.ceil(0.4 * (reached[year] - reached[year + 1] / 2))

    def max_len_for(self, reaches_2020: bool) -> int:
        return self.max_len + (LOCKDOWN_STRETCH_DAYS if reaches_2020 else 0)

    def convention_weight(self, convention: ConventionInfo, year: int) -> float:
        planned = convention.planned_days(year)
        if self.planned_days(year):
            return planned
        budgets = [
            line.budget
            for y, line in sorted(convention.years.items(), key=lambda item: abs(item[0] - year))
            if line.budget
        ]
        return float(budgets[0]) if budgets else 1.0

    # the walk over the years ------------------------------------------------------------------

    def plan(self) -> list[Stay]:
        stays = self._walk(0, [], [])
        if stays is None:
            raise DemoInfeasible(self._diagnose())
        return stays

    def _walk(self, index: int, carried: list[Stay], done: list[Stay]) -> list[Stay] | None:
        if index == len(self.years):
            return done + carried  # stays still open at the edition date
        year = self.years[index]
        targets = self.year_targets[year]
        if targets.persons_free and targets.days is not None:
            context = self._fit_persons(index, carried)
        elif targets.persons_free:
            # those carried over, and about as many entries as the seats free up in a year
            entries = round(0.85 * self.planned_days(year) / self.typical_len)
            context = _YearContext(self, year, carried, max(targets.persons, len(carried) + entries))
        else:
            context = _YearContext(self, year, carried, targets.persons)
        for carry_out in self._carry_out_candidates(index, context):
            self.attempts += 1
            if self.attempts > self.MAX_ATTEMPTS:
                return None
            solved = context.solve(carry_out)
            if solved is None:
                continue
            exited, carried_next = solved
            result = self._walk(index + 1, carried_next, done + exited)
            if result is not None:
                return result
        return None

    def _fit_persons(self, index: int, carried: list[Stay]) -> "_YearContext":
        """The document gives no persons for this year (ACI): take the number whose dates come
        out most natural (the solving parameter nearest 0), found by bisection."""

        def theta(context: "_YearContext") -> float | None:
            candidates = self._carry_out_candidates(index, context)
            if not candidates:
                return None
            chosen = context.choose(candidates[0])
            if chosen is None:
                return 40.0 if context.short_of_days else -40.0
            return chosen[1]

        estimate = self.year_targets[self.years[index]].persons
        low, high = max(len(carried), estimate // 2, 1), max(len(carried) + 1, estimate * 2)
        best: tuple[float, _YearContext] | None = None
        while low <= high:
            middle = (low + high) // 2
            context = _YearContext(self, self.years[index], carried, middle)
            value = theta(context)
            if value is not None and (best is None or abs(value) < best[0]):
                best = (abs(value), context)
            if value is None or value > 0:  # too few persons for the days wanted (θ pushes up)
                low = middle + 1
            else:
                high = middle - 1
        if best is None:
            return _YearContext(self, self.years[index], carried, estimate)
        return best[1]

    def _carry_out_candidates(self, index: int, context: "_YearContext") -> list[int]:
        """How many stays may still be there on 31 December, the most natural first."""
        year = self.years[index]
        targets = self.year_targets[year]
        persons = context.persons
        low, high = context.carry_out_bounds()
        next_year = self.years[index + 1] if index + 1 < len(self.years) else None
        if next_year is None:
            high = high if year == EDITION.year else 0
        elif self.year_targets[next_year].persons_free:
            high = min(high, 2 * self.year_targets[next_year].persons)
        else:
            high = min(high, self.year_targets[next_year].persons)
        if targets.exits is not None:
            high = min(high, persons - targets.exits)
            low = max(low, persons - targets.exits)
        high = min(high, persons - targets.min_exits)
        if targets.days is not None:  # on 31 December about as many are there as on average
            natural = round(targets.days / context.year_days)
        else:
            natural = context.natural_carry_out()
            if next_year is not None and not self.year_targets[next_year].persons_free:
                natural = min(natural, round(RENEWAL * self.year_targets[next_year].persons))
        natural = min(max(natural, low), high)
        candidates = [c for c in range(low, high + 1) if targets.exit_counts_ok(persons - c)]
        return sorted(candidates, key=lambda c: (abs(c - natural), c))[: self.CANDIDATES]

    def _diagnose(self) -> str:
        """Why no plan was found: the years whose days of stay would need nearly every person
        present all the time they may stay, and the months_per_place that would leave room (the
        seed's rule: at most 75 % of what the persons could give)."""
        tight = []  # (share of the most the persons could give, year, explanation)
        for year in self.years:
            targets = self.year_targets[year]
            if targets.days is None:
                continue
            year_days = year_bounds(year)[1] - year_bounds(year)[0] + 1
            longest = min(year_days, self.max_len_for(year == EDITION.year) + 1)
            most = targets.persons * longest
            mpps = sorted({c.years[year].months_per_place for c in self.action.conventions if year in c.years})
            if targets.days > 0.75 * most and mpps:
                tight.append(
                    (
                        targets.days / most,
                        year,
                        f"{year}: {targets.days} person-days wanted, {targets.days / most:.0%} of what "
                        f"{targets.persons} persons staying up to {longest} days could give; months_per_place "
                        f"{mpps[0]} → {max(1, math.floor(mpps[0] * 0.75 * most / targets.days))} or less "
                        "would leave room",
                    )
                )
        impossible = [line for share, _year, line in tight if share > 1]
        lines = [
            f"action {self.action.number} ({self.action.code}): no plan reaches the document's figures",
            *(impossible or [line for _share, _year, line in tight]),
            f"{self.attempts} attempts",
        ]
        return "; ".join(lines)


@dataclass(slots=True)
class _Entrant:
    """A new entry of the year, before its dates are solved; positions are in [0, 1]."""

    convention: ConventionInfo
    entry: float  # where in the year it would naturally enter (0 first day, 1 last)
    length: float  # where its intended length lies in the allowed range
    intended: int  # the length (days) it would naturally have
    natural_end: float  # natural entry + intended length (ordinal)
    jitter: float


class _YearContext:
    """One year of an action's plan: the stays carried into it, its new entrants, and how their
    dates can be chosen for a given number of stays carried past 31 December."""

    def __init__(self, planner: "ActionPlanner", year: int, carried: list[Stay], persons: int):
        self.planner, self.year, self.carried, self.persons = planner, year, carried, persons
        self.targets = planner.year_targets[year]
        self.first, self.last = year_bounds(year)
        self.year_days = self.last - self.first + 1
        self.is_last = year == EDITION.year
        # a stay carried past this year ends on or after this day (the edition date for 2020)
        self.beyond = self.last if self.is_last else self.last + 1
        # the draws depend only on where the walk stands, so a retry draws the same again
        rng = self.rng = random.Random(
            f"{DEMO_SEED}:{planner.action.number}:{year}:{len(carried)}:{sum(s.entered for s in carried)}:{persons}"
        )
        for stay in carried:  # a retry after backtracking starts from scratch
            stay.exited = None
        self.new_count = persons - len(carried)
        self._chosen: dict[int, tuple[_YearItems, float] | None] = {}
        self.short_of_days = False  # when out of reach: the days wanted exceed what stays can give
        reaches_2020 = year + 1 >= EDITION.year
        self.stay_on_max = planner.max_len_for(reaches_2020)
        self.exit_max = planner.max_len_for(self.is_last)
        # carried stays: may they exit this year, may they stay on?
        self.exit_range: dict[int, tuple[int, int]] = {}
        self.forced: list[int] = []
        self.can_stay: list[int] = []
        self.impossible = self.new_count < 0
        for i, stay in enumerate(carried):
            window = stay.convention.window(year)
            lo = max(self.first, stay.entered + planner.floor_len)
            hi = min(window[1] if window else self.first - 1, stay.entered + self.exit_max)
            may_stay = self.continues(stay.convention) and stay.entered + self.stay_on_max >= self.beyond
            if lo <= hi:
                self.exit_range[i] = (lo, hi)
                if may_stay:
                    self.can_stay.append(i)
            elif may_stay:
                self.forced.append(i)
            else:
                self.impossible = True
        # who stays on: those whose intended length goes past 31 December (in random order), then
        # the others, the longest first
        crossing = {i: rng.random() for i in self.can_stay if carried[i].entered + carried[i].intended > self.last}
        self.stay_order = self.forced + sorted(
            self.can_stay, key=lambda i: (0, crossing[i]) if i in crossing else (1, -carried[i].intended, i)
        )
        self.natural_stay_on = len(self.forced) + sum(
            1 for i in self.can_stay if carried[i].entered + carried[i].intended > self.last
        )
        # where each would naturally leave in its range: at the end of its intended length
        self.u_exit = []
        for i, stay in enumerate(carried):
            lo, hi = self.exit_range.get(i, (0, 0))
            natural_exit = stay.entered + stay.intended + rng.uniform(-0.5, 0.5)
            self.u_exit.append(min(0.97, max(0.03, (natural_exit - lo) / (hi - lo))) if hi > lo else 0.5)
        # new entrants, shared among the conventions open this year
        self.entrants: list[_Entrant] = []
        if not self.impossible:
            conventions = [c for c in planner.action.conventions if c.window(year)]
            carried_by = Counter(stay.convention.id for stay in carried)
            weights = [planner.convention_weight(c, year) for c in conventions]
            wanted = [
                max(0.0, persons * w / sum(weights) - carried_by[c.id])
                for c, w in zip(conventions, weights, strict=True)
            ]
            shares = largest_remainder(self.new_count, wanted if sum(wanted) > 0 else weights)
            for convention, share in zip(conventions, shares, strict=True):
                ws, we = convention.window(year)
                for _ in range(share):
                    entry, jitter = rng.random(), rng.random()
                    intended = round(math.exp(rng.uniform(math.log(planner.min_len), math.log(planner.max_len))))
                    room = max(1, self.exit_max - planner.floor_len)
                    length = (min(intended, self.exit_max) - planner.floor_len + jitter - 0.5) / room
                    self.entrants.append(
                        _Entrant(
                            convention,
                            entry,
                            min(0.97, max(0.03, length)),
                            intended,
                            ws + entry * (we - ws) + intended,
                            jitter,
                        )
                    )
        self.new_max = planner.max_len_for(reaches_2020)

        # who is carried over among the new entrants: those whose natural end is past 31 December
        # (in random order), then the others, the latest natural end first
        def carry_order(j: int) -> tuple:
            entrant = self.entrants[j]
            return (0, entrant.jitter, j) if entrant.natural_end > self.last else (1, -entrant.natural_end, j)

        self.eligible = sorted(
            (
                j
                for j, entrant in enumerate(self.entrants)
                if self.continues(entrant.convention)
                and entrant.convention.window(year)[1] == self.last
                and max(entrant.convention.window(year)[0], self.beyond - self.new_max) <= self.last
            ),
            key=carry_order,
        )

    def continues(self, convention: ConventionInfo) -> bool:
        """Whether a stay in this convention may go on past this year."""
        if self.is_last:
            return convention.end >= EDITION.toordinal()
        return convention.end > self.last and convention.window(self.year + 1) is not None

    def natural_carry_out(self) -> int:
        """How many would still be there on 31 December if every stay had its intended length."""
        entering = sum(1 for j in self.eligible if self.entrants[j].natural_end > self.last)
        return self.natural_stay_on + entering

    def carry_out_bounds(self) -> tuple[int, int]:
        if self.impossible:
            return 1, 0
        return len(self.forced), len(self.forced) + len(self.can_stay) + len(self.eligible)

    def _build(self, stay_on: int, carry_out: int) -> "_YearItems | None":
        planner = self.planner
        staying = set(self.stay_order[:stay_on])
        items = _YearItems(self.year_days)
        items.staying = staying
        for i in range(len(self.carried)):
            if i in staying:
                items.fixed += self.year_days
            else:
                lo, hi = self.exit_range[i]
                items.exits.append((i, lo - self.first + 1, hi - self.first + 1, self.u_exit[i]))
        carrying = set(self.eligible[: carry_out - stay_on])
        # Where each would naturally enter (0 early, 1 late), spread evenly over its group: the
        # stays carried over are the naturally late ones, the others fill the rest of the year.
        groups = (
            [j for j in range(len(self.entrants)) if j in carrying],
            [j for j in range(len(self.entrants)) if j not in carrying],
        )
        position = {}
        for group in groups:
            for rank, j in enumerate(sorted(group, key=lambda j: (self.entrants[j].entry, j))):
                position[j] = (rank + self.entrants[j].jitter) / len(group)
        for j, entrant in enumerate(self.entrants):
            ws, we = entrant.convention.window(self.year)
            if j in carrying:
                earliest = max(ws, self.beyond - self.new_max)
                items.carry_outs.append((j, earliest, self.last, 1 - position[j]))
            else:
                latest_entry = we - planner.floor_len
                if latest_entry < ws:
                    return None
                items.in_year.append(
                    (j, ws, latest_entry, planner.floor_len, self.exit_max, we, 1 - position[j], entrant.length)
                )
        return items

    def choose(self, carry_out: int) -> "tuple[_YearItems, float] | None":
        """How many carried stays stay on, and the solving parameter θ; None when out of reach."""
        forced = len(self.forced)
        low = max(forced, carry_out - len(self.eligible))
        high = min(carry_out, forced + len(self.can_stay))
        if self.impossible or low > high:
            return None
        if carry_out in self._chosen:
            return self._chosen[carry_out]
        natural = min(max(self.natural_stay_on, low), high)
        target, tau = self.targets.days, self.planner.TAU
        chosen = None
        for stay_on in _search_order(natural, low, high):
            items = self._build(stay_on, carry_out)
            if items is None:
                continue
            if target is None:
                chosen = (items, 0.0)
                break
            fewest, most = items.total(-40.0, tau), items.total(40.0, tau)
            if fewest <= target <= most:
                chosen = (items, items.solve(target, tau))
                break
            if stay_on == natural:
                self.short_of_days = target > most
        self._chosen[carry_out] = chosen
        return chosen

    def solve(self, carry_out: int) -> tuple[list[Stay], list[Stay]] | None:
        """Dates for the year: (stays that exit in it, stays carried past 31 December) or None."""
        chosen = self.choose(carry_out)
        if chosen is None:
            return None
        items, theta = chosen
        positions = items.integer_positions(theta, self.planner.TAU, self.targets.days, self.rng)
        number = self.planner.action.number
        exited: list[Stay] = []
        carried_next = [self.carried[i] for i in self.stay_order if i in items.staying]
        for i, days in positions["exits"].items():
            self.carried[i].exited = self.first + days - 1
            exited.append(self.carried[i])
        for j, entrant in enumerate(self.entrants):
            if j in positions["carry_outs"]:
                entered = self.last - positions["carry_outs"][j] + 1
                carried_next.append(Stay(number, entrant.convention, entered, entrant.intended))
            else:
                entered, days = positions["in_year"][j]
                exited.append(Stay(number, entrant.convention, entered, entrant.intended, exited=entered + days - 1))
        return exited, carried_next


def _search_order(start: int, low: int, high: int) -> Iterator[int]:
    yield start
    for step in range(1, high - low + 1):
        for value in (start + step, start - step):
            if low <= value <= high:
                yield value


@dataclass
class _YearItems:
    """The parts of a year's stays whose dates are still free, and their days of stay."""

    year_days: int
    fixed: int = 0
    staying: set = field(default_factory=set)  # carried stays that stay on past 31 December
    _natural_entries: list = field(default_factory=list)
    exits: list = field(default_factory=list)  # (i, lo days, hi days, u): days = exit − 1 Jan + 1
    # (j, earliest entry, last day, u): days = 31 Dec − entry + 1, u 1 is the earliest entry
    carry_outs: list = field(default_factory=list)
    # (j, first entry, last entry, floor, cap, window end, u_e, u_l); u_e 1 is the first entry day
    in_year: list = field(default_factory=list)

    @staticmethod
    def _knobs(theta: float, tau: float) -> tuple[float, float, float]:
        """Powers applied to the uniform positions: (lengths and exits, entries within the year,
        entries of stays carried past 31 December). θ > 0 gives more days: longer stays first,
        then (beyond τ) earlier entries; θ < 0 gives fewer: shorter stays, and later entries of
        those carried over, never a late rush of in-year entries."""
        entry_power = math.exp(-max(0.0, theta - tau))
        return math.exp(-theta), entry_power, entry_power if theta >= 0 else math.exp(-theta)

    def total(self, theta: float, tau: float) -> float:
        length_power, entry_power, carry_power = self._knobs(theta, tau)
        if not self._natural_entries and (self.carry_outs or self.in_year):  # entries at θ = 0, once
            self._natural_entries.extend(entry_day(earliest, last, 1 - u) for _j, earliest, last, u in self.carry_outs)
            self._natural_entries.extend(entry_day(ws, le, 1 - u) for _j, ws, le, *_rest, u, _u in self.in_year)
        total = float(self.fixed)
        for _i, lo, hi, u in self.exits:
            total += lo + (hi - lo) * u**length_power
        for k, (_j, earliest, last, u) in enumerate(self.carry_outs):
            entry = self._natural_entries[k] if carry_power == 1.0 else entry_day(earliest, last, 1 - u**carry_power)
            total += last + 1 - entry
        offset = len(self.carry_outs)
        for k, (_j, ws, le, floor, cap, we, u_e, u_l) in enumerate(self.in_year):
            entry = self._natural_entries[offset + k] if entry_power == 1.0 else entry_day(ws, le, 1 - u_e**entry_power)
            room = min(cap, we - entry)
            total += 1 + floor + (room - floor) * u_l**length_power
        return total

    def solve(self, target: int, tau: float) -> float:
        low, high = -40.0, 40.0
        for _ in range(40):
            middle = (low + high) / 2
            if self.total(middle, tau) < target:
                low = middle
            else:
                high = middle
        return (low + high) / 2

    def integer_positions(self, theta: float, tau: float, target: int | None, rng: random.Random) -> dict:
        """Whole days for every item at θ, nudged a day at a time until they add up to `target`."""
        length_power, entry_power, carry_power = self._knobs(theta, tau)
        handles = []  # [value, low, high, kind, key, extra]
        for i, lo, hi, u in self.exits:
            handles.append([round(lo + (hi - lo) * u**length_power), lo, hi, "exits", i, None])
        for j, earliest, last, u in self.carry_outs:
            entry = math.floor(entry_day(earliest, last, 1 - u**carry_power))
            handles.append([last + 1 - entry, 1, last + 1 - earliest, "carry_outs", j, None])
        for j, ws, le, floor, cap, we, u_e, u_l in self.in_year:
            entry = math.floor(entry_day(ws, le, 1 - u_e**entry_power))
            room = min(cap, we - entry)
            days = round(1 + floor + (room - floor) * u_l**length_power)
            handles.append([days, 1 + floor, 1 + room, "in_year", j, entry])
        if target is not None:
            gap = target - self.fixed - sum(handle[0] for handle in handles)
            order = list(range(len(handles)))
            rng.shuffle(order)
            while gap:
                moved = False
                for index in order:
                    handle = handles[index]
                    if gap > 0 and handle[0] < handle[2]:
                        handle[0] += 1
                        gap -= 1
                        moved = True
                    elif gap < 0 and handle[0] > handle[1]:
                        handle[0] -= 1
                        gap += 1
                        moved = True
                    if not gap:
                        break
                if not moved:
                    raise DemoInfeasible(f"cannot adjust the days of stay by {gap}")
        positions: dict = {"exits": {}, "carry_outs": {}, "in_year": {}}
        for value, _lo, _hi, kind, key, entry in handles:
            positions[kind][key] = (entry, value) if kind == "in_year" else value
        return positions


# --- exit reasons and hours ---------------------------------------------------------------------


def exit_reason_counts(total: int, rates: dict[str, int], profile: Profile) -> dict[str, int]:
    """How many exits of each reason, so that each targeted rate prints as the document's."""
    if total == 0:
        return {}
    wanted = {code: counts_for_percent(percent, total)[0] for code, percent in rates.items()}
    business = wanted.get("business_creation_rate")
    durable = wanted.get("durable_employment_rate")
    dynamic = wanted.get("dynamic_exit_rate")
    completed = wanted.get("completion_rate")
    if durable is None:
        durable = max(business or 0, round(profile.durable * total))
    if dynamic is None:
        dynamic = max(durable, round(profile.dynamic * total))
    if completed is None:
        completed = max(dynamic, round(profile.completed * total))
    if "dynamic_exit_rate" not in wanted:
        dynamic = min(dynamic, completed)
    if "durable_employment_rate" not in wanted:
        durable = max(business or 0, min(durable, dynamic))
    if business is None:
        business = round(profile.business_in_durable * durable)
    if not 0 <= business <= durable <= dynamic <= completed <= total:
        raise DemoInfeasible(f"exit counts out of order: {business=} {durable=} {dynamic=} {completed=} of {total}")
    counts: Counter = Counter()
    counts["business_creation"] = business
    other_durable = [code for code in DURABLE if code != "business_creation"]
    other_weights = [w for code, w in zip(DURABLE, profile.durable_weights, strict=True) if code != "business_creation"]
    counts.update(dict(zip(other_durable, largest_remainder(durable - business, other_weights), strict=True)))
    counts.update(dict(zip(DYNAMIC_ONLY, largest_remainder(dynamic - durable, profile.dynamic_weights), strict=True)))
    counts["completed"] = completed - dynamic
    counts.update(
        dict(zip(NOT_COMPLETED, largest_remainder(total - completed, profile.not_completed_weights), strict=True))
    )
    return {code: count for code, count in counts.items() if count}


def _outcome_rank(code: str) -> int:
    reason = EXIT_REASONS_BY_CODE[code]
    return 0 if reason.durable_employment else 1 if reason.dynamic else 2 if reason.completed else 3


def assign_exit_reasons(stays: list[Stay], planner: ActionPlanner, rng: random.Random) -> None:
    """Deal each year's exit reasons; longer stays tend to get the better outcomes."""
    edition = EDITION.toordinal()
    for year in planner.years:
        first, last = year_bounds(year)
        exits = [stay for stay in stays if stay.exited is not None and first <= stay.exited <= last]
        rates = {
            code: planner.targets[code][year]
            for code in RATE_CODES
            if planner.targets.get(code, {}).get(year) is not None
        }
        counts = exit_reason_counts(len(exits), rates, planner.profile)
        reasons = [code for code in sorted(counts) for _ in range(counts[code])]
        rng.shuffle(reasons)
        reasons.sort(key=_outcome_rank)
        exits.sort(key=lambda stay: -stay.length(edition) * rng.uniform(0.6, 1.4))
        for stay, reason in zip(exits, reasons, strict=True):
            stay.exit_reason = reason


def assign_hours(stays: list[Stay], reached: dict[int, int | None], rng: random.Random) -> None:
    """AI/ETTI hours: exactly `reached[year]` persons present that year reach their threshold.

    Pathways present in 2020 get no hours (the document's NC), so those counted in 2018–2019 are
    the ones that ended by 31 December 2019; one present in both years counts in both."""

    def threshold(stay: Stay, year: int) -> int | None:
        line = stay.convention.years.get(year)
        return line.hours_threshold if line else None

    open_2020 = [stay for stay in stays if stay.present_in(2020)]
    for stay in open_2020:
        stay.hours = None
    done = [stay for stay in stays if not stay.present_in(2020)]
    only_2018 = [s for s in done if s.present_in(2018) and not s.present_in(2019) and threshold(s, 2018)]
    both = [s for s in done if s.present_in(2018) and s.present_in(2019) and threshold(s, 2018) and threshold(s, 2019)]
    only_2019 = [s for s in done if s.present_in(2019) and not s.present_in(2018) and threshold(s, 2019)]
    want_2018, want_2019 = reached.get(2018) or 0, reached.get(2019) or 0
    natural = round(len(both) * want_2018 / max(1, len(only_2018) + len(both)))
    low = max(0, want_2018 - len(only_2018), want_2019 - len(only_2019))
    high = min(len(both), want_2018, want_2019)
    if low > high:
        raise DemoInfeasible(
            f"AI/ETTI hours: cannot have {want_2018} persons reach the threshold in 2018 "
            f"and {want_2019} in 2019 (pathways: {len(only_2018)}, {len(both)}, {len(only_2019)})"
        )
    in_both = min(max(natural, low), high)
    edition = EDITION.toordinal()

    def pick(group: list[Stay], count: int) -> set[int]:
        ranked = sorted(group, key=lambda stay: -stay.length(edition) * rng.uniform(0.5, 1.5))
        return {id(stay) for stay in ranked[:count]}

    reaching = pick(only_2018, want_2018 - in_both) | pick(both, in_both) | pick(only_2019, want_2019 - in_both)
    for stay in done:
        years = [year for year in (2018, 2019) if stay.present_in(year)]
        limits = [threshold(stay, year) for year in years if threshold(stay, year)] or [150]
        # hours of mise à disposition grow with the months spent; clear of the threshold itself
        months = stay.length(edition) / MONTH_DAYS
        if id(stay) in reaching:
            stay.hours = round(max(limits) * (1.02 + min(1.0, months / 24) * rng.uniform(0, 0.9)))
        else:
            stay.hours = round(min(limits) * min(0.95, 0.1 + months / 24 * rng.uniform(0.3, 1.2)))


# --- the whole data set -------------------------------------------------------------------------


@dataclass
class Person:
    """A synthetic beneficiary and their pathways (a few go on from Depart'Parcours elsewhere)."""

    number: int
    stays: list[Stay] = field(default_factory=list)
    action: int = 0


@dataclass
class Prescription:
    """A pathway that was never entered: cancelled, or still waiting at the end of 2020."""

    convention: ConventionInfo
    prescribed: int
    cancelled: int | None
    reason: str | None
    action: int


@dataclass
class DemoPlan:
    stays: dict[int, list[Stay]]  # action number → stays
    prescriptions: list[Prescription]
    activity: list[tuple[ConventionInfo, int, str, int]]  # convention, day, metric, quantity
    people: list[Person]
    # where beneficiaries live: the INSEE codes of the seed's sites by territory, once per site
    communes: dict[str, list[str]]


def plan_demo(catalogue: dict[int, ActionInfo]) -> DemoPlan:
    missing = sorted(set(TARGETS) - {n for n, a in catalogue.items() if a.conventions})
    if missing:
        raise DemoInfeasible(f"the catalogue has no conventions for actions {missing}: run `pdi seed` first")
    stays: dict[int, list[Stay]] = {}
    for number, action in sorted(catalogue.items()):
        if not action.conventions:
            continue
        profile = PROFILES.get(number, Profile())
        planner = ActionPlanner(action, TARGETS.get(number, {}), profile)
        action_stays = planner.plan()
        rng = random.Random(f"{DEMO_SEED}:reasons:{number}")
        assign_exit_reasons(action_stays, planner, rng)
        if "hours_threshold_reached" in TARGETS.get(number, {}):
            assign_hours(action_stays, TARGETS[number]["hours_threshold_reached"], rng)
        action_stays.sort(key=lambda stay: (stay.entered, stay.convention.reference, stay.exited or 0))
        stays[number] = action_stays
    people = _people(stays)
    prescriptions = _prescriptions(catalogue, stays)
    activity = _activity(catalogue)
    sites = {site.id: site for action in catalogue.values() for c in action.conventions for site in c.sites}
    communes: dict[str, list[str]] = {"urban": [], "rural": []}
    for site in sorted(sites.values(), key=lambda site: site.id):
        if site.insee_code and site.territory in communes:
            communes[site.territory].append(site.insee_code)
    return DemoPlan(stays, prescriptions, activity, people, communes)


def _people(stays: dict[int, list[Stay]]) -> list[Person]:
    """One person per stay, except that some who finished Depart'Parcours (action 3) with a next
    step are the ones who enter a later action (the diagnostic's purpose)."""
    rng = random.Random(f"{DEMO_SEED}:people")
    people: list[Person] = []
    owner: dict[int, Person] = {}
    for number in sorted(stays):
        for stay in stays[number]:
            person = Person(len(people) + 1, [stay], number)
            people.append(person)
            owner[id(stay)] = person
    onward = sorted(
        (s for s in stays.get(3, []) if s.exit_reason in ("insertion_action", "training", "completed")),
        key=lambda stay: stay.exited,
    )
    downstream = sorted(
        (s for n in (4, 5, 6, 8, 9, 10, 11) for s in stays.get(n, []) if s.entered > date(2018, 3, 1).toordinal()),
        key=lambda stay: (stay.entered, stay.convention.reference),
    )
    available: list[Stay] = []
    cursor = 0
    for stay in downstream:
        while cursor < len(onward) and onward[cursor].exited < stay.entered - 70:
            available.append(onward[cursor])
            cursor += 1
        if available and rng.random() < 0.3:
            upstream = available.pop()
            person, moving = owner[id(upstream)], owner[id(stay)]
            person.stays.append(stay)
            moving.stays.clear()
            owner[id(stay)] = person
    kept = [person for person in people if person.stays]
    for number, person in enumerate(kept, start=1):
        person.number = number
    return kept


def _prescriptions(catalogue: dict[int, ActionInfo], stays: dict[int, list[Stay]]) -> list[Prescription]:
    """A few cancelled prescriptions every year, and some waiting for an entry at the end of 2020."""
    rng = random.Random(f"{DEMO_SEED}:prescriptions")
    result = []
    edition = EDITION.toordinal()
    for number, action in sorted(catalogue.items()):
        entered = Counter((stay.convention.id, date.fromordinal(stay.entered).year) for stay in stays.get(number, []))
        for convention in action.conventions:
            for year in YEARS:
                window = convention.window(year)
                if window is None:
                    continue
                for _ in range(round(entered[(convention.id, year)] * rng.uniform(0.02, 0.06))):
                    prescribed = rng.randint(window[0] - 20, min(window[1], edition - 50))
                    cancelled = prescribed + rng.randint(7, 45)
                    result.append(Prescription(convention, prescribed, cancelled, rng.choice(CANCEL_REASONS), number))
            if convention.end >= edition and convention.window(EDITION.year):
                for _ in range(max(1, round(entered[(convention.id, EDITION.year)] * 0.04))):
                    result.append(Prescription(convention, edition - rng.randint(1, 30), None, None, number))
    return result


def _activity(catalogue: dict[int, ActionInfo]) -> list[tuple[ConventionInfo, int, str, int]]:
    """Monthly activity counts (end of month) adding up to the document's yearly figures."""
    records = []
    rng = random.Random(f"{DEMO_SEED}:activity")
    for number, targets in sorted(TARGETS.items()):
        conventions = catalogue[number].conventions if number in catalogue else ()
        for metric in ACTIVITY_CODES:
            for year, total in sorted(targets.get(metric, {}).items()):
                if total is None:
                    continue  # "NC": nothing reported that year
                open_conventions = [c for c in conventions if c.window(year)]
                shares = largest_remainder(total, [c.planned_days(year) or 1 for c in open_conventions])
                for convention, share in zip(open_conventions, shares, strict=True):
                    months = [
                        m
                        for m in range(1, 13)
                        if convention.window(year)[0] <= _month_end(year, m) <= convention.window(year)[1]
                    ]
                    weights = [_activity_weight(year, m) * rng.uniform(0.7, 1.3) for m in months]
                    for month, quantity in zip(months, largest_remainder(share, weights), strict=True):
                        if quantity:
                            records.append((convention, _month_end(year, month), metric, quantity))
    return records


def _month_end(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).toordinal()


def _activity_weight(year: int, month: int) -> float:
    """Fewer rentals and exams in August and during the 2020 lockdowns."""
    if year == 2020 and month in (4,):
        return 0.1
    if year == 2020 and month in (3, 5, 11):
        return 0.5
    return 0.6 if month == 8 else 1.0


# --- the rows of one copy ----------------------------------------------------------------------

# The rows `copy_rows` gives, column by column: the writer sends them as they are.
BENEFICIARY_COLUMNS = ("ref_hash", "created_at", "updated_at")
PATHWAY_COLUMNS = (
    "convention_id",
    "beneficiary_id",
    "site_id",
    "prescribed_on",
    "entered_on",
    "planned_end_on",
    "exited_on",
    "exit_reason",
    "hours",
    "cancelled_on",
    "cancel_reason",
    "birth_year",
    "sex",
    "insee_code",
    "territory",
    "household",
    "self_employed",
    "created_at",
    "updated_at",
)


@dataclass
class CopyRows:
    """One copy of every synthetic person: a beneficiary row each (BENEFICIARY_COLUMNS), and their
    pathway rows (PATHWAY_COLUMNS) whose `beneficiary_id` is the position of their person in
    `beneficiaries`: ids are the database's to give, so the writer puts them in."""

    beneficiaries: list[tuple]
    pathways: list[tuple]


def copy_rows(plan: DemoPlan, copy: int, *, secret: str, now: datetime) -> CopyRows:
    """The rows of copy number `copy` (from 0): the same for the same arguments, whatever else
    was generated before (each copy draws from its own seeded generator)."""
    rng = random.Random(f"{DEMO_SEED}:copy:{copy}")
    number = copy * (len(plan.people) + len(plan.prescriptions))
    rows = CopyRows(beneficiaries=[], pathways=[])
    for person in plan.people:
        number += 1
        first = person.stays[0]
        site = _site_for(first.convention, rng)
        characteristics = _characteristics(person.action, _year(first.entered), site, plan.communes, rng)
        position = len(rows.beneficiaries)
        rows.beneficiaries.append((pseudonymise(f"{REF_PREFIX}{number}", secret=secret), now, now))
        for stay in person.stays:
            stay_site = site if stay is first else _site_for(stay.convention, rng)
            rows.pathways.append(_pathway_row(stay, position, stay_site, rng) + characteristics + (now, now))
    for prescription in plan.prescriptions:
        number += 1
        site = _site_for(prescription.convention, rng)
        characteristics = _characteristics(
            prescription.action, _year(prescription.prescribed), site, plan.communes, rng
        )
        position = len(rows.beneficiaries)
        rows.beneficiaries.append((pseudonymise(f"{REF_PREFIX}{number}", secret=secret), now, now))
        cancelled = date.fromordinal(prescription.cancelled) if prescription.cancelled else None
        rows.pathways.append(
            (
                prescription.convention.id,
                position,
                site.id if site else None,
                date.fromordinal(prescription.prescribed),
                None,  # entered_on
                None,  # planned_end_on
                None,  # exited_on
                None,  # exit_reason
                None,  # hours
                cancelled,
                prescription.reason,
            )
            + characteristics
            + (now, now)
        )
    return rows


def _year(day: int) -> int:
    return date.fromordinal(day).year


def _site_for(convention: ConventionInfo, rng: random.Random) -> SiteInfo | None:
    return rng.choice(convention.sites) if convention.sites else None


def _characteristics(
    action: int, year: int, site: SiteInfo | None, communes: dict[str, list[str]], rng: random.Random
) -> tuple:
    """What each of a person's pathways records of them (birth_year … self_employed): someone
    living near the site, mostly, in its commune or another of its kind of territory."""
    profile = PROFILES.get(action, Profile())
    territory = site.territory if site and site.territory else rng.choice(("urban", "rural"))
    insee = site.insee_code if site else None
    if rng.random() < 0.15:  # some come from the other kind of territory
        territory = "rural" if territory == "urban" else "urban"
        insee = rng.choice(communes[territory]) if communes[territory] else None
    elif rng.random() < 0.5 and communes[territory]:
        insee = rng.choice(communes[territory])
    sex = rng.choices(("F", "M", "X"), weights=(52, 47.7, 0.3))[0]
    household = profile.household or rng.choices(tuple(HOUSEHOLDS), weights=tuple(HOUSEHOLDS.values()))[0]
    birth_year = year - round(rng.triangular(20, 63, 37))
    return (birth_year, sex, insee, territory, household, rng.random() < profile.self_employed)


def _pathway_row(stay: Stay, person: int, site: SiteInfo | None, rng: random.Random) -> tuple:
    """PATHWAY_COLUMNS from convention_id to cancel_reason."""
    profile = PROFILES.get(stay.action, Profile())
    low, mode, high = profile.entry_delay_days
    delay = round(rng.triangular(low, high, mode))
    planned_end = min(stay.convention.end, stay.entered + max(stay.intended, 28))
    if stay.exited is None:
        planned_end = max(planned_end, min(stay.convention.end, EDITION.toordinal()))
    return (
        stay.convention.id,
        person,
        site.id if site else None,
        date.fromordinal(stay.entered - delay),
        date.fromordinal(stay.entered),
        date.fromordinal(planned_end),
        date.fromordinal(stay.exited) if stay.exited is not None else None,
        stay.exit_reason,
        stay.hours,
        None,  # cancelled_on
        None,  # cancel_reason
    )
