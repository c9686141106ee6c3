"""The change feed as a new consumer meets it, with an admin key: the catch-up from cursor 0 over
every page of the largest `limit` (items/s) against a psycopg keyset scan of the feed's table
(app/outbox/models.py) joined to the pathways, pages of the same size; and one poll when nothing
changed (its median latency) against one GET of the static list, both timed by the same wrk
script (bench/lua/get.lua), one connection."""

import time

import httpx
import psycopg

from bench.common import SECONDS, report, script_results, wrk_script

PAGE = 1000  # GET /changes' largest limit (SPEC C3)

# A page of the feed by hand: the next PAGE entries after a cursor, with the pathway each names
# (the other kinds' entities are few: the catalogue).
KEYSET_SQL = """
SELECT c.cursor, c.kind, c.entity_id, c.modified, p.*
FROM change c
LEFT JOIN pathway p ON p.id = CASE WHEN c.kind = 'pathway' THEN c.entity_id::bigint END
WHERE c.cursor > %s
ORDER BY c.cursor
LIMIT %s
"""


def measure_feed(base: str, url: str, key: str) -> str:
    """The figures; the cursor the catch-up ended at (for the poll)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
        shown: list[int] = []
        after = 0
        started = time.perf_counter()
        while True:
            page = http.get("/api/v1/changes", params={"after": after, "limit": PAGE}).raise_for_status().json()
            if not page["items"]:
                break
            shown.extend(item["cursor"] for item in page["items"])
            after = page["next"]
        feed_seconds = time.perf_counter() - started
    with psycopg.connect(url) as connection:
        by_hand: list[int] = []
        after = 0
        started = time.perf_counter()
        while True:
            rows = connection.execute(KEYSET_SQL, (after, PAGE)).fetchall()
            if not rows:
                break
            by_hand.extend(row[0] for row in rows)
            after = rows[-1][0]
        hand_seconds = time.perf_counter() - started
    # An admin sees every kind: the reference read what the feed gave, entry for entry.
    assert shown == by_hand, f"the feed gave {len(shown):,} entries, the keyset scan {len(by_hand):,}"
    report(
        f"feed catch-up from cursor 0, admin key, pages of {PAGE:,} ({len(shown):,} entries)",
        len(shown) / feed_seconds,
        "items/s",
        "psycopg keyset scan of the feed joined to pathways, same pages",
        len(by_hand) / hand_seconds,
        goal="≥ 0.5",
    )
    return str(after)


def poll_latency(base: str, path: str, label: str, key: str | None = None) -> float:
    """Median latency (ms) of GETs of `path`, one at a time, for SECONDS."""
    options = [f"label={label}", f"path={path}"] + ([f"key={key}"] if key else [])
    result = script_results(wrk_script("get.lua", base, threads=1, duration=SECONDS, arguments=options))[label]
    assert set(result["statuses"]) == {"200"}, result["statuses"]
    return result["p50_ms"]


def measure_feed_poll(base: str, static_base: str, key: str, cursor: str) -> None:
    poll = poll_latency(base, f"/api/v1/changes?after={cursor}&limit={PAGE}", "poll", key)
    static = poll_latency(static_base, "/static", "static")
    report(
        "one feed poll with nothing new (median latency, admin key)",
        poll,
        "ms",
        "one GET of the static list",
        static,
        goal="≤ 2",
    )


def measure_feed_figures(base: str, static_base: str, url: str, key: str) -> None:
    measure_feed_poll(base, static_base, key, measure_feed(base, url, key))
