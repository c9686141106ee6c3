"""The document's figures the demo must reproduce, and the demo's fixed points.

TARGETS transcribes the tables of the département's review (shared/seeds/bilan-pdi-2019-2021.md)
as the demo must make the bilan show them at scale 1: per action and year, counts exactly, rates
as the printed whole percents (`percent_half_up`), None for the document's "NC". Places and
budgets are not here: they come from the seed catalogue (seed/catalogue.toml). The other
constants fix what every run shares: the random seed, the years, the as-of date, and when 2018
and 2019 were consolidated.
"""

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime

from app.pathways.models import ActivityMetric

DEMO_SEED = 20191231
YEARS = (2018, 2019, 2020)
EDITION = date(2020, 12, 31)  # the bilan's as-of date: nothing happens after it
CONSOLIDATED = {2018: datetime(2019, 4, 2, 9, 0, tzinfo=UTC), 2019: datetime(2020, 3, 31, 9, 0, tzinfo=UTC)}

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


def percent_half_up(count: int, total: int) -> int:
    """round(100 × count / total) with halves rounded up, in exact integer arithmetic: how the
    document prints a rate."""
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
    """`total` whole units shared in proportion to `weights` (ties to the first): how a figure of
    the document is spread over conventions, months or exit reasons without losing a unit."""
    weight_sum = sum(weights)
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * weight / weight_sum for weight in weights]
    shares = [int(value) for value in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares
