"""Issue 37: the feed's catch-up and the exits by natural key on the database as `pdi demo` leaves
it (it runs ANALYZE itself on PostgreSQL; the bench adds nothing), against the same figures on a
copy of it (`CREATE DATABASE … TEMPLATE`, the same pages) after `VACUUM ANALYZE`, each served by
its own uvicorn, the two taking turns (goal ≥ 0.9 ×): the catch-up page by page, the exits the
same rows in both, batch by batch (five). A keyset scan of the feed first reads each database
once, so that neither pays for a cold cache alone. The tables' last vacuum and analyze are printed
beside (the bench's server may run autovacuum; the figures are of what it left)."""

import statistics
import time

import httpx
import psycopg
from psycopg import sql

from bench.common import ADMIN_URL, DATABASE, database_url, drop_database, report, served
from bench.figures.exits import batch_size, by_key_items, file_numbers, open_pathways, posted_seconds
from bench.figures.feed import PAGE, keyset_scan

TABLES = ("beneficiary", "change", "pathway")
BATCHES = 5  # of exits, on each database


def vacuum_analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def analyzed_copy(name: str) -> str:
    """A copy of the bench's database (nobody connected to it), after VACUUM ANALYZE; its URL."""
    drop_database(name)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(DATABASE)
            )
        )
    url = database_url(name)
    vacuum_analyze(url)
    return url


def print_maintenance(url: str, which: str) -> None:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT relname, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s) ORDER BY relname",
            (list(TABLES),),
        ).fetchall()
    for name, *moments in rows:
        done = ", ".join(
            f"{what} {when:%H:%M:%S}"
            for what, when in zip(("vacuum", "autovacuum", "analyze", "autoanalyze"), moments, strict=True)
            if when
        )
        print(f"  {which}: table {name}: {done or 'no vacuum nor analyze in this database'}", flush=True)


def catch_ups_in_turn(bases: dict[str, str], key: str) -> dict[str, float]:
    """A new consumer's catch-up from cursor 0 on each database, page by page in turn (each page's
    time counted to its database, whichever goes first alternating), so that whatever else the
    machine does meanwhile falls on both alike: items/s of each."""
    headers = {"Authorization": f"Bearer {key}"}
    clients = {name: httpx.Client(base_url=base, headers=headers, timeout=600) for name, base in bases.items()}
    after = dict.fromkeys(bases, 0)
    items = dict.fromkeys(bases, 0)
    seconds = dict.fromkeys(bases, 0.0)
    order = list(bases)
    try:
        while any(after[name] is not None for name in order):
            for name in order:
                if after[name] is None:
                    continue
                started = time.perf_counter()
                page = clients[name].get("/api/v1/changes", params={"after": after[name], "limit": PAGE})
                page = page.raise_for_status().json()
                seconds[name] += time.perf_counter() - started
                items[name] += len(page["items"])
                after[name] = page["next"] if page["items"] else None
            order.reverse()
    finally:
        for client in clients.values():
            client.close()
    assert len(set(items.values())) == 1, f"the two databases' feeds differ: {items}"
    return {name: items[name] / seconds[name] for name in bases}


def measure_fresh_load(url: str, key: str) -> None:
    copy_url = analyzed_copy(f"{DATABASE}_analyzed")
    print_maintenance(url, "as pdi demo left it")
    print_maintenance(copy_url, "its copy after VACUUM ANALYZE")
    with psycopg.connect(url) as connection:
        rows = open_pathways(connection)
        beneficiaries = connection.execute("SELECT max(id) FROM beneficiary").fetchone()[0]
    size = batch_size(rows)
    batches = [rows[start : start + size] for start in range(0, BATCHES * size, size)]
    refs = file_numbers({row[3] for batch in batches for row in batch}, beneficiaries)
    for each in (url, copy_url):
        keyset_scan(each)
    exits: dict[str, list[float]] = {url: [], copy_url: []}
    with served("app.main:app", url, 1) as (fresh_base, _), served("app.main:app", copy_url, 1) as (copy_base, _):
        bases = {url: fresh_base, copy_url: copy_base}
        catch_ups = catch_ups_in_turn(bases, key)
        for number, batch in enumerate(batches):
            for each in (url, copy_url) if number % 2 == 0 else (copy_url, url):
                exits[each].append(size / posted_seconds(bases[each], key, [by_key_items(batch, refs)]))
    drop_database(f"{DATABASE}_analyzed")
    after = "the same on its copy after VACUUM ANALYZE, in turn"
    report(
        f"feed catch-up from cursor 0, admin key, pages of {PAGE:,}, on the database as pdi demo left it",
        catch_ups[url],
        "items/s",
        after,
        catch_ups[copy_url],
        goal="≥ 0.9",
    )
    report(
        f"exit records by (convention, file number, entry date), batches of {size:,}, as pdi demo left it",
        statistics.median(exits[url]),
        "exits/s",
        after,
        statistics.median(exits[copy_url]),
        goal="≥ 0.9",
    )
