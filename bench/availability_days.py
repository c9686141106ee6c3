"""Availability for a day long past against the data's last day (issue 21): the median time of
`service.list_availability` (size 500, the cache's work left out) for `on=2020-06-15` and for
`on=2020-12-31`, interleaved, and their ratio (goal ≤ 3, at any scale).

    DATABASE_URL=postgresql+psycopg://…/db python -m bench.availability_days [runs]

on a database made by `pdi migrate`, `pdi seed` and `pdi demo --scale N`.
"""

import statistics
import sys
import time
from datetime import date

from app.availability.service import list_availability
from app.core.db import PdiSession, get_engine
from app.core.pagination import PageParams

PAST, LAST = date(2020, 6, 15), date(2020, 12, 31)


def main(runs: int) -> None:
    engine = get_engine()
    times: dict[date, list[float]] = {PAST: [], LAST: []}
    for _ in range(runs):
        for day in times:
            with PdiSession(engine) as session:
                started = time.perf_counter()
                list_availability(session=session, on=day, params=PageParams(page=1, size=500))
                times[day].append(time.perf_counter() - started)
    medians = {day: statistics.median(values) for day, values in times.items()}
    for day, median in medians.items():
        print(f"availability on {day}: median {median * 1000:.1f} ms over {runs} runs")
    print(f"ratio {PAST} / {LAST}: {medians[PAST] / medians[LAST]:.2f} (goal ≤ 3)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 21)
