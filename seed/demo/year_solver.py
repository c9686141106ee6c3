"""The solver of one year of an action: the dates of its stays, so that its days of stay add up exactly.

`YearContext` holds a year's stays carried in from the year before and its new entrants (drawn
from a generator seeded by where the walk stands, so a retry draws the same again). Given how
many stays go on past 31 December (the planner's choice), it chooses which, then solves for the
dates: each exit date, entry date and length is a random position in its allowed range, and
one parameter θ pushes all positions together (lengths first, then entry dates) until the days
of stay add up exactly (`_YearItems.solve`: bisection), then whole days are nudged one at a time
(`_YearItems.integer_positions`).
"""

import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from seed.demo.calendar import entry_day, year_bounds
from seed.demo.model import ConventionInfo, DemoInfeasible, Stay
from seed.demo.targets import DEMO_SEED, EDITION, largest_remainder

if TYPE_CHECKING:  # the planner drives this module; only its type is named here
    from seed.demo.planner import ActionPlanner


@dataclass(slots=True)
class _Entrant:
    """A new entry of the year, before its dates are solved; positions are in [0, 1]."""

    convention: ConventionInfo
    entry: float  # where in the year it would naturally enter (0 first day, 1 last)
    length: float  # where its intended length lies in the allowed range
    intended: int  # the length (days) it would naturally have
    natural_end: float  # natural entry + intended length (ordinal)
    jitter: float


class YearContext:
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
