"""The solver over an action's years: which stays each year holds, and which go on past 31 December.

The document's figures (targets.py) become, per action and year, targets on the pathways
(`_YearTargets`): persons present, days of stay (the occupancy rate × the person-days its
convention years plan: places × months_per_place / 12 × days of the year), exits, and for each
rate the numbers of exits that print as it. `ActionPlanner` walks the years in order. A year's
persons are the stays carried over from the year before plus new entries; it tries, the most
natural first, how many are still there on 31 December (carried into the next year, or still
open at the end of 2020), lets year_solver.py find the dates, and backtracks when a later year
cannot be met.

Allowed stay lengths are the action's min/max duration (profiles.py gives one where the catalogue
has none). Three deliberate departures, all plausible and each needed by a figure: a stay of n
months may end within the week after them (a one-month Depart'Numérique needs 33 days a person in
2018 with months_per_place already at its minimum, 1); in 2020 a stay may last up to 3 months
longer (the lockdowns interrupted pathways; Depart'Parcours and Depart'Numérique need 55 and 89
days a person); and an AI/ETTI pathway may end after 3 months (a job found, a move) although its
nominal minimum is 12: the conventions start on 1 January 2018, so without early exits nobody
could leave in 2018, and the document has 2018 exit rates.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from seed.demo.calendar import months_to_days, year_bounds
from seed.demo.model import ActionInfo, ConventionInfo, DemoInfeasible, Stay
from seed.demo.profiles import Profile
from seed.demo.targets import EDITION, RATE_CODES, YEARS, counts_for_percent
from seed.demo.year_solver import YearContext

LOCKDOWN_STRETCH_DAYS = 92  # 2020: a stay may last up to 3 months longer than nominal
# A stay of n months ends within the week after them (the last session, the restitution): a
# one-month Depart'Numérique lasts up to 5 weeks, which its 2018–2019 occupancy needs.
MAX_LENGTH_GRACE_DAYS = 7
RENEWAL = 0.85  # at most this share of a year's persons are carried over from the year before


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
            context = YearContext(self, year, carried, max(targets.persons, len(carried) + entries))
        else:
            context = YearContext(self, year, carried, targets.persons)
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

    def _fit_persons(self, index: int, carried: list[Stay]) -> "YearContext":
        """The document gives no persons for this year (ACI): take the number whose dates come
        out most natural (the solving parameter nearest 0), found by bisection."""

        def theta(context: "YearContext") -> float | None:
            candidates = self._carry_out_candidates(index, context)
            if not candidates:
                return None
            chosen = context.choose(candidates[0])
            if chosen is None:
                return 40.0 if context.short_of_days else -40.0
            return chosen[1]

        estimate = self.year_targets[self.years[index]].persons
        low, high = max(len(carried), estimate // 2, 1), max(len(carried) + 1, estimate * 2)
        best: tuple[float, YearContext] | None = None
        while low <= high:
            middle = (low + high) // 2
            context = YearContext(self, self.years[index], carried, middle)
            value = theta(context)
            if value is not None and (best is None or abs(value) < best[0]):
                best = (abs(value), context)
            if value is None or value > 0:  # too few persons for the days wanted (θ pushes up)
                low = middle + 1
            else:
                high = middle - 1
        if best is None:
            return YearContext(self, self.years[index], carried, estimate)
        return best[1]

    def _carry_out_candidates(self, index: int, context: "YearContext") -> list[int]:
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
