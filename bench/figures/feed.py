"""The change feed as a new consumer meets it, with an admin key: the catch-up from cursor 0 over
every page of the largest `limit` (items/s) against a psycopg keyset scan of the feed's table
(app/outbox/models.py) joined to the pathways, pages of the same size; then the polls with nothing
new, each timed by the same wrk script (bench/lua/get.lua, one connection, median latency) as one
GET of the static list: the feed's page after its last cursor, and availability as a portal polls it
(its key, the If-None-Match of the last ETag received: 304)."""

import time

import httpx
import psycopg

from bench.common import AVAILABILITY_URL, SECONDS, report, script_results, wrk_script

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


def catch_up(base: str, key: str) -> tuple[list[int], float]:
    """A new consumer reading the whole feed from cursor 0: the cursors it was given, the seconds."""
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
        return shown, time.perf_counter() - started


def keyset_scan(url: str) -> tuple[list[int], float]:
    """The same pages by hand through psycopg: the cursors read, the seconds."""
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
        return by_hand, time.perf_counter() - started


def measure_feed(base: str, url: str, key: str) -> str:
    """The figures; the cursor the catch-up ended at (for the poll)."""
    shown, feed_seconds = catch_up(base, key)
    by_hand, hand_seconds = keyset_scan(url)
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
    return str(shown[-1])


def poll_latency(base: str, path: str, label: str, key: str | None = None, etag: bool = False) -> float:
    """Median latency (ms) of GETs of `path`, one at a time, for SECONDS; with `etag`, each sends the
    If-None-Match of the last ETag received (the first is a 200, the rest 304s)."""
    options = [f"label={label}", f"path={path}"] + ([f"key={key}"] if key else []) + (["etag=yes"] if etag else [])
    result = script_results(wrk_script("get.lua", base, threads=1, duration=SECONDS, arguments=options))[label]
    expected = {"200": 1, "304": result["count"] - 1} if etag else {"200": result["count"]}
    assert result["statuses"] == expected, result["statuses"]
    return result["p50_ms"]


def measure_polls(base: str, static_base: str, admin_key: str, portal_key: str, cursor: str) -> None:
    feed = poll_latency(base, f"/api/v1/changes?after={cursor}&limit={PAGE}", "feed poll", admin_key)
    static = poll_latency(static_base, "/static", "static")
    availability = poll_latency(base, AVAILABILITY_URL, "availability poll", portal_key, etag=True)
    reference = "one GET of the static list"
    report("one feed poll with nothing new (median latency, admin key)", feed, "ms", reference, static, goal="≤ 2")
    report(
        "one availability poll with nothing new (If-None-Match: 304; median latency, portal key)",
        availability,
        "ms",
        reference,
        static,
        goal="≤ 2",
    )


def measure_feed_figures(base: str, static_base: str, url: str, admin_key: str, portal_key: str) -> None:
    measure_polls(base, static_base, admin_key, portal_key, measure_feed(base, url, admin_key))
