"""What the plan is made of: the catalogue as the planner reads it, and the stays it plans.

Pure data: `ActionInfo`, `ConventionInfo`, `YearLine` and `SiteInfo` are what seed/demo/writer.py
reads from the database (`read_catalogue`); a `Stay` is one planned pathway that was entered.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from seed.demo.calendar import year_bounds


class DemoInfeasible(ValueError):
    """The document's figures cannot be reached with the catalogue's conventions."""


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
