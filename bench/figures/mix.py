"""The mix of issues 21, 32 and 37, against two workers (Compose's default: PDI_WORKERS, the image's
WEB_CONCURRENCY), MIX_SECONDS each run, one wrk process per class of client (bench/lua), each wrk
thread one client:

- portal pollers as portals poll: PORTALS portal keys, each polling GET /availability (all
  conventions on the data's last day) with the If-None-Match of the last ETag it received, open
  loop (bench/lua/paced.lua: latency from when each request was due), each poll's moment drawn
  apart from the others' (a Poisson process, bench/lua/timing.lua), POLL_RATE requests/s in all,
  each key well within its rate limit (PDI_RATE_LIMIT_KEY's default);
- 2 prescribers, with another portal key, posting prescriptions (POST /pathways without entry) for
  new persons on the conventions that have seats that day, in turn: each valid (201; waitlisted
  once a convention is full); open loop, a Poisson process of PRESCRIPTION_RATE a second in all
  (2: at scale 100 the demo's 922,600 pathways over three years are about 1,200 prescriptions a
  working day, and 2 a second is tens of times their busiest hour; a tenth of the key's rate limit);
- 1 operator's exit script posting batches of exit records (1,000 or fewer) of pathways still
  open, PAUSE_MS apart exactly from a random start (5 s: 720,000 exits an hour, where the
  département records about 1,200 a working day);
- 1 staff reader, admin key, /indicators 2020 by action and territory and the full bilan in turn,
  each STAFF_INTERVAL_MS on average after the last answer (5 s: a person who never stops asking).

Runs: each class alone; the mix as users load it (goal: each endpoint's p95 ≤ 1.5 × alone); the
stress (a figure without goal), the same classes as fast as they can go: 8 closed-loop pollers on
one key in place of the paced ones (each sends its next poll as soon as it has its answer: about 35
times a key's rate limit), the prescribers and the staff reader closed loop too, the exit batches
one second apart;
and the prescribers beside one reader key flooding heavy reads at its rate limit, open loop from 4
connections (issue 32's bulkhead per caller: the prescriptions' p95 ≤ 2 × alone)."""

import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg
from limits import parse_many

from app.core.config import Settings
from bench.common import AVAILABILITY_URL, VAR, new_key, report, script_results, served, wait_for_quiet, wrk_script
from bench.figures.exits import EXIT_DAY, open_pathways
from bench.figures.reports import BILAN_URL, ESF_URL, INDICATORS_URL

MIX_SECONDS = float(os.environ.get("BENCH_MIX_SECONDS", "120"))
PAUSE_MS = int(os.environ.get("BENCH_MIX_EXIT_PAUSE_MS", "5000"))
STRESS_EXIT_PAUSE_MS = 1000
MIX_BATCH = 1000
WORKERS = 2
PORTALS = int(os.environ.get("BENCH_PORTALS", "10"))
POLL_RATE = float(os.environ.get("BENCH_POLL_RATE", "20"))  # requests/s, all portals together
PRESCRIPTION_RATE = float(os.environ.get("BENCH_PRESCRIPTION_RATE", "2"))  # a second, both prescribers
PRESCRIBERS = 2
STAFF_INTERVAL_MS = int(os.environ.get("BENCH_STAFF_INTERVAL_MS", "5000"))
STRESS_POLLERS = 8
FLOOD_CONNECTIONS = 4
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
HEAVY_READS = (INDICATORS_URL, BILAN_URL, ESF_URL, "/api/v1/exports/data-inclusion/services")


def key_rate_limit() -> float:
    """Requests/s a key may make under PDI_RATE_LIMIT_KEY's default (1200/minute: 20)."""
    limit = parse_many(Settings.model_fields["rate_limit_key"].default)[0]
    return limit.amount / limit.get_expiry()


def today() -> str:
    """The service's today (app/core/time.py: Paris), the day prescriptions are made."""
    return datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()


def exit_batches(path: Path, rows: list, pause_ms: int) -> int:
    """A Lua file of JSON bodies (batches of MIX_BATCH exit records by pathway_id) for
    bench/lua/exits.lua, as many as a run posts `pause_ms` apart and `rows` allow (the script
    posts them again after the last: a re-posted record is `unchanged`); their size."""
    size = max(1, min(MIX_BATCH, len(rows)))
    count = max(1, min(int(MIX_SECONDS * 1000 / pause_ms) + 1, len(rows) // size))
    bodies = []
    for start in range(0, count * size, size):
        items = ",".join(
            f'{{"pathway_id": {row[0]}, "exited_on": "{EXIT_DAY.isoformat()}", "exit_reason": "training"}}'
            for row in rows[start : start + size]
        )
        bodies.append(f"[=[[{items}]]=]")
    path.write_text("return {\n" + ",\n".join(bodies) + "\n}\n")
    return size


# The runs with the exit script, each with exit batches of its own (pathways still open: an exit
# posted again is `unchanged`, cheaper, and would flatter the later runs).
RUNS = ("alone", "mix", "stress")
POLLERS, STRESS_POLLING, FLOOD = "portal pollers", "stress pollers", "heavy-read flood"
OTHERS = ("prescribers", "exit script", "staff reader")
AVAILABILITY = "GET /availability (portal key, If-None-Match)"
FLOOD_LABEL = "heavy reads flooded by one reader key"
PRESCRIPTION = "POST /api/v1/pathways (prescription)"


def exit_pause(run: str) -> int:
    return STRESS_EXIT_PAUSE_MS if run == "stress" else PAUSE_MS


def classes(base: str, keys: dict, conventions: list[int], batches: dict[str, Path], run: str) -> dict:
    """Each class's wrk process, to start (not started): at the rates users send, or as fast as
    they can go in the stress. The prescribers' file numbers are new in each run (the stamp), so
    that a second run on the same database meets no duplicate."""
    stamp = time.time_ns()
    paced = run != "stress"
    return {
        POLLERS: lambda: wrk_script(
            "paced.lua",
            base,
            threads=PORTALS,
            duration=MIX_SECONDS,
            arguments=[
                f"label={AVAILABILITY}",
                "keys=" + ",".join(keys["portals"]),
                f"paths={AVAILABILITY_URL}",
                f"interval_ms={1000 * PORTALS / POLL_RATE:g}",
                "etag=yes",
            ],
        ),
        STRESS_POLLING: lambda: wrk_script(
            "get.lua",
            base,
            threads=STRESS_POLLERS,
            duration=MIX_SECONDS,
            arguments=[f"label={AVAILABILITY}", f"path={AVAILABILITY_URL}", f"key={keys['portals'][0]}", "etag=yes"],
        ),
        "prescribers": lambda: wrk_script(
            "prescriber.lua",
            base,
            threads=PRESCRIBERS,
            duration=MIX_SECONDS,
            arguments=[
                *([f"interval_ms={1000 * PRESCRIBERS / PRESCRIPTION_RATE:g}"] if paced else []),
                f"key={keys['prescriber']}",
                f"prefix=BENCH-{run}-{stamp}",
                "conventions=" + ",".join(map(str, conventions)),
                f"day={today()}",
            ],
        ),
        "exit script": lambda: wrk_script(
            "exits.lua",
            base,
            threads=1,
            duration=MIX_SECONDS,
            arguments=[
                f"key={keys['admin']}",
                f"batches={batches[run]}",
                f"pause_ms={exit_pause(run)}",
            ],
        ),
        "staff reader": lambda: wrk_script(
            "staff.lua",
            base,
            threads=1,
            duration=MIX_SECONDS,
            arguments=[f"key={keys['admin']}", f"paths={INDICATORS_URL}|{BILAN_URL}"]
            + ([f"interval_ms={STAFF_INTERVAL_MS}"] if paced and STAFF_INTERVAL_MS else []),
        ),
        FLOOD: lambda: wrk_script(
            "paced.lua",
            base,
            threads=FLOOD_CONNECTIONS,
            duration=MIX_SECONDS,
            arguments=[
                f"label={FLOOD_LABEL}",
                f"keys={keys['reader']}",
                "paths=" + "|".join(HEAVY_READS),
                f"interval_ms={1000 * FLOOD_CONNECTIONS / key_rate_limit():g}",
            ],
        ),
    }


def measure_mix(url: str, admin_key: str) -> dict:
    assert POLL_RATE / PORTALS <= key_rate_limit(), "each portal key polls within its rate limit"
    assert PRESCRIPTION_RATE <= key_rate_limit(), "the prescribers' key posts within its rate limit"
    keys = {
        "admin": admin_key,
        "portals": [new_key(url, "portal", f"make bench: portal {n}") for n in range(1, PORTALS + 1)],
        "prescriber": new_key(url, "portal", "make bench: prescriber"),
        "reader": new_key(url, "reader", "make bench: reader flooding heavy reads"),
    }
    with psycopg.connect(url) as connection:
        # Newest first: the exit figures closed the oldest open pathways.
        rows = list(reversed(open_pathways(connection)))
    share = len(rows) // len(RUNS)
    batches = {run: VAR / f"bench-exits-{run}.lua" for run in RUNS}
    sizes = {
        run: exit_batches(batches[run], rows[i * share : (i + 1) * share], exit_pause(run))
        for i, run in enumerate(RUNS)
    }
    size = sizes["mix"]  # the one printed: the stress's may be smaller when it runs out of rows
    # The rate limits' store shared by the workers, as Compose sets it: the heavy reads' slot per
    # caller counts there across workers (the budgets themselves stay off, as everywhere in the bench).
    with served("app.main:app", url, WORKERS, PDI_RATE_LIMIT_STORAGE=REDIS_URL) as (base, _server):
        page = httpx.get(base + AVAILABILITY_URL, timeout=600).raise_for_status().json()
        conventions = [item["convention_id"] for item in page["items"] if (item["capacity"] or 0) > 0]
        check = httpx.post(
            f"{base}/api/v1/pathways",
            json={
                "convention_id": conventions[0],
                "beneficiary_ref": f"BENCH-CHECK-{time.time_ns()}",
                "prescribed_on": today(),
            },
            headers={"Authorization": f"Bearer {keys['prescriber']}"},
            timeout=60,
        )
        assert check.status_code == 201, f"a prescriber's body is refused: {check.status_code} {check.text}"
        for path in HEAVY_READS:
            answer = httpx.get(base + path, headers={"Authorization": f"Bearer {keys['reader']}"}, timeout=600)
            assert answer.status_code == 200, f"the reader's {path}: {answer.status_code} {answer.text[:300]}"
        print(
            f"mix: {MIX_SECONDS:g} s per run, {WORKERS} workers; {PORTALS} portals polling at {POLL_RATE:g} requests/s"
            f" in all; {PRESCRIPTION_RATE:g} prescriptions/s; exit batches of {size:,}, {PAUSE_MS} ms apart;"
            f" a staff read every {STAFF_INTERVAL_MS} ms",
            flush=True,
        )
        alone: dict[str, dict] = {}
        for name, start in classes(base, keys, conventions, batches, "alone").items():
            if name in (POLLERS, *OTHERS):
                wait_for_quiet(url)
                alone |= script_results(start())
        runs = {
            "mix": run_at_once(url, classes(base, keys, conventions, batches, "mix"), POLLERS, *OTHERS),
            "stress": run_at_once(url, classes(base, keys, conventions, batches, "stress"), STRESS_POLLING, *OTHERS),
            "flood": run_at_once(url, classes(base, keys, conventions, batches, "flood"), FLOOD, "prescribers"),
        }
    table = []
    for label, by_itself in alone.items():
        mixed, stressed = runs["mix"].get(label), runs["stress"].get(label)
        assert mixed is not None and stressed is not None, f"{label}: no answer under the mix or the stress"
        table.append({"endpoint": label, "alone": by_itself, "mix": mixed, "stress": stressed})
        report(
            f"{label}: p95 under the mix as users load it",
            mixed["p95_ms"],
            "ms",
            "its p95 alone",
            by_itself["p95_ms"],
            goal="≤ 1.5",
        )
        report(
            f"{label}: p95 under the stress (every class as fast as it goes, no goal)",
            stressed["p95_ms"],
            "ms",
            "its p95 alone",
            by_itself["p95_ms"],
        )
        for run, result in (("alone", by_itself), ("mix", mixed), ("stress", stressed)):
            print_result(run, result)
    flooded = runs["flood"][PRESCRIPTION]
    report(
        f"{PRESCRIPTION}: p95 under one reader key's flood of heavy reads",
        flooded["p95_ms"],
        "ms",
        "its p95 alone",
        alone[PRESCRIPTION]["p95_ms"],
        goal="≤ 2",
    )
    print_result("beside the flood", flooded)
    print_result("the flood", runs["flood"][FLOOD_LABEL])
    return {
        "seconds": MIX_SECONDS,
        "workers": WORKERS,
        "portals": PORTALS,
        "poll_rate": POLL_RATE,
        "prescription_rate": PRESCRIPTION_RATE,
        "exit_batch": size,
        "exit_pause_ms": PAUSE_MS,
        "staff_interval_ms": STAFF_INTERVAL_MS,
        "endpoints": table,
        "flood": {"prescriptions": flooded, "heavy_reads": runs["flood"][FLOOD_LABEL]},
    }


def print_result(run: str, result: dict) -> None:
    statuses = result["statuses"].items()
    failed = {status: count for status, count in statuses if not status.startswith(("2", "3"))}
    print(
        f"  {run}: {result['count']:,} requests, p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms,"
        f" p99 {result['p99_ms']:.1f} ms; statuses {result['statuses']}"
        + (f" (NON-2xx: {failed})" if failed else "")
        + (f"; items {result['extra']}" if result["extra"] else "")
        + (f"; socket errors {result['errors']}" if result["errors"] else ""),
        flush=True,
    )


def run_at_once(url: str, starts: dict, *names: str) -> dict[str, dict]:
    """Start these classes' wrk processes together, once the database is quiet (nothing left of
    the run before), then collect their results (by endpoint)."""
    wait_for_quiet(url)
    results: dict[str, dict] = {}
    for process in [starts[name]() for name in names]:
        results |= script_results(process)
    return results
