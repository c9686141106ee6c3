"""Availability on a past day against the data's last day: the time to build one page (all
conventions) for 2020-06-15 and for 2020-12-31. A page kept in memory would measure nothing, so
each request asks a question not asked before: the same page with another `size` (500, 499, …,
each above the number of conventions, so each answer is the whole list), anonymous, one at a
time, the two days taking turns; the median of each kept."""

import statistics

import httpx

from bench.common import ON, REPEATS, report, seconds

PAST_DAY = "2020-06-15"


def measure_past_day(base: str) -> None:
    runs: dict[str, list[float]] = {PAST_DAY: [], ON: []}
    with httpx.Client(base_url=base, timeout=600) as http:
        conventions = http.get(f"/api/v1/availability?on={ON}&size=500").raise_for_status().json()["total"]
        sizes = list(range(499, 499 - 4 * REPEATS, -1))
        assert sizes[-1] > conventions, "more conventions than distinct page sizes"
        for size in sizes:
            for day in runs:
                path = f"/api/v1/availability?on={day}&size={size}"
                runs[day].append(seconds(lambda path=path: http.get(path).raise_for_status()))
    report(
        f"GET /availability page built for {PAST_DAY} (median, anonymous, not yet asked)",
        statistics.median(runs[PAST_DAY]),
        "s",
        f"the same page built for {ON}, the data's last day",
        statistics.median(runs[ON]),
        goal="≤ 3",
    )
