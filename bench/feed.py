"""The change feed at database speed (issue 21, item 3), each figure beside its reference:

- a catch-up from cursor 0 with an admin key, pages of the maximum limit, in items/s, against a
  psycopg keyset scan of the feed joined to pathways (the same pages, every column fetched);
- one poll when nothing changed (the cursor is the last one), mean latency with a key and
  anonymous, against the static 50-item list of the same stack (bench/static_app.py).

Runs alternate the feed and its reference, BENCH_FEED_REPEATS times (3); the median is kept.
BENCH_FEED_ITEMS=N stops each catch-up after N items (default: the whole feed); BENCH_FEED_POLLS
(500) polls make one latency.

Alone, on a database that already has demo data:
`BENCH_FEED_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/pdi_feed_bench python -m bench.feed`
(it creates an admin key there).
"""

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import psycopg

FEED_URL = "/api/v1/changes"
MAX_LIMIT = 1000
POLLS = int(os.environ.get("BENCH_FEED_POLLS", "500"))
REPEATS = int(os.environ.get("BENCH_FEED_REPEATS", "3"))
# A catch-up of the first N items only (0: the whole feed), for a quick run.
MOST = int(os.environ.get("BENCH_FEED_ITEMS", "0"))

# What a person would write to read the feed with the pathways' rows, page by page.
REFERENCE_SQL = """
SELECT c.cursor, c.kind, c.entity_id, c.modified, p.*
FROM change c
LEFT JOIN pathway p ON c.kind = 'pathway' AND p.id = CASE WHEN c.kind = 'pathway' THEN c.entity_id::int END
WHERE c.cursor > %s
ORDER BY c.cursor
LIMIT %s
"""


def catch_up(base: str, key: str) -> tuple[int, float]:
    """Items read from cursor 0 to the end, and the seconds it took."""
    headers = {"Authorization": f"Bearer {key}"}
    items, after = 0, 0
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        started = time.perf_counter()
        while True:
            page = client.get(FEED_URL, params={"after": after, "limit": MAX_LIMIT}).raise_for_status().json()
            if not page["items"] or (MOST and items >= MOST):
                return items, time.perf_counter() - started
            items += len(page["items"])
            after = page["next"]


def keyset_scan(url: str) -> tuple[int, float]:
    with psycopg.connect(url) as connection:
        rows, after = 0, 0
        started = time.perf_counter()
        while True:
            page = connection.execute(REFERENCE_SQL, (after, MAX_LIMIT)).fetchall()
            if not page or (MOST and rows >= MOST):
                return rows, time.perf_counter() - started
            rows += len(page)
            after = page[-1][0]


def mean_latency_ms(base: str, path: str, headers: dict[str, str] | None = None) -> float:
    with httpx.Client(base_url=base, headers=headers or {}, timeout=60) as client:
        for _ in range(50):  # warm-up
            client.get(path).raise_for_status()
        started = time.perf_counter()
        for _ in range(POLLS):
            client.get(path).raise_for_status()
        return (time.perf_counter() - started) / POLLS * 1000


def measure_feed(*, base: str, static_base: str, url: str, key: str, report: Callable[..., None]) -> None:
    feed_rates, reference_rates = [], []
    for _ in range(REPEATS):
        items, seconds = catch_up(base, key)
        feed_rates.append(items / seconds)
        rows, reference_seconds = keyset_scan(url)
        reference_rates.append(rows / reference_seconds)
    report(
        f"feed catch-up from 0, admin key, limit {MAX_LIMIT} ({items:,} items)",
        statistics.median(feed_rates),
        "items/s",
        "psycopg keyset scan of the feed joined to pathways",
        statistics.median(reference_rates),
    )
    with psycopg.connect(url) as connection:
        last = connection.execute("SELECT last_cursor FROM feed_clock").fetchone()[0]
    poll = f"{FEED_URL}?after={last}&limit={MAX_LIMIT}"
    static, keyed, anonymous = [], [], []
    for _ in range(REPEATS):
        static.append(mean_latency_ms(static_base, "/static"))
        keyed.append(mean_latency_ms(base, poll, {"Authorization": f"Bearer {key}"}))
        anonymous.append(mean_latency_ms(base, poll))
    static_ms = statistics.median(static)
    report("feed poll, nothing new, admin key", statistics.median(keyed), "ms", "static 50-item list", static_ms)
    report("feed poll, nothing new, anonymous", statistics.median(anonymous), "ms", "static 50-item list", static_ms)


def main() -> None:
    from bench.run import app_environment, report, served  # the bench's helpers (bench.run imports this module)

    url = os.environ.get("BENCH_FEED_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pdi_feed_bench")
    key = (
        subprocess.run(
            [sys.executable, "-m", "app.cli", "keys", "create", "--role", "admin", "--name", "bench feed"],
            env=app_environment(url),
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    with served("bench.static_app:app", url, 1) as (static_base, _), served("app.main:app", url, 1) as (base, _):
        measure_feed(base=base, static_base=static_base, url=url, key=key, report=report)


if __name__ == "__main__":
    main()
