"""Outcomes of the planned stays: each exit's reason, and AI/ETTI hours.

Exit reasons are dealt per action and year so that each rate's numerator is exact (the counts
that print as the document's percent), longer stays getting the better outcomes. AI/ETTI hours:
exactly the document's number of persons reach their convention's threshold in 2018 and 2019,
and no pathway present in 2020 has hours (the document's "NC").
"""

import random
from collections import Counter

from app.reference.exit_reasons import EXIT_REASONS_BY_CODE
from seed.demo.calendar import MONTH_DAYS, year_bounds
from seed.demo.model import DemoInfeasible, Stay
from seed.demo.planner import ActionPlanner
from seed.demo.profiles import DURABLE, DYNAMIC_ONLY, NOT_COMPLETED, Profile
from seed.demo.targets import EDITION, RATE_CODES, counts_for_percent, largest_remainder


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
