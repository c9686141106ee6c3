"""The demo's calendar: days as ordinals, months as days, and when people enter.

Entries are rare on weekends, in August, at Christmas and during the 2020 lockdowns:
`entry_day` places an entry at a position in [0, 1] of the entries a range of days allows,
so that the solver can move positions and the dates follow the calendar.
"""

from bisect import bisect_right
from datetime import date
from functools import lru_cache

MONTH_DAYS = 30.44


def year_bounds(year: int) -> tuple[int, int]:
    return date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()


def months_to_days(months: float) -> int:
    return round(months * MONTH_DAYS)


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
