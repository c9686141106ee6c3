"""The mix of issue 21: for MIX_SECONDS, at once, one wrk process per class of client (bench/lua),
each thread one client with one request in flight, against one worker:

- 8 portal pollers, with a portal key, GET /availability (all conventions on the data's last day)
  with the If-None-Match of the last ETag they received, as a poller sends it;
- 2 prescribers, with another portal key, posting prescriptions (POST /pathways without entry) for
  new persons on the conventions that have seats that day, in turn: each valid (201; waitlisted
  once a convention is full);
- 1 operator's exit script posting batches of exit records (1,000 or fewer) of pathways still
  open, one second apart;
- 1 staff reader, admin key, /indicators 2020 by action and territory and the full bilan in turn.

Each class is first run alone for the same time with the same settings; the figures are each
endpoint's p95 under the mix against its p95 alone (goal ≤ 3 ×), with p50 and p99 beside them
and the count of each status. Then the mix runs once more without the portal pollers, so that
each run shows what the pollers' share of the worker costs the others (figures without a goal)."""

import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import psycopg

from bench.common import AVAILABILITY_URL, VAR, new_key, report, script_results, served, wrk_script
from bench.figures.exits import EXIT_DAY, open_pathways
from bench.figures.reports import BILAN_URL, INDICATORS_URL

MIX_SECONDS = float(os.environ.get("BENCH_MIX_SECONDS", "60"))
PAUSE_MS = int(os.environ.get("BENCH_MIX_EXIT_PAUSE_MS", "1000"))
MIX_BATCH = 1000


def today() -> str:
    """The service's today (app/core/time.py: Paris), the day prescriptions are made."""
    return datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()


def exit_batches(path: Path, rows: list) -> int:
    """A Lua file of JSON bodies (batches of exit records by pathway_id) for bench/lua/exits.lua."""
    count = max(1, min(int(MIX_SECONDS * 1000 / PAUSE_MS) + 1, len(rows) // 10 or 1))
    size = max(1, min(MIX_BATCH, len(rows) // count))
    bodies = []
    for start in range(0, count * size, size):
        items = ",".join(
            f'{{"pathway_id": {row[0]}, "exited_on": "{EXIT_DAY.isoformat()}", "exit_reason": "training"}}'
            for row in rows[start : start + size]
        )
        bodies.append(f"[=[[{items}]]=]")
    path.write_text("return {\n" + ",\n".join(bodies) + "\n}\n")
    return size


# The runs, each with exit batches of its own (pathways still open: an exit posted again is
# `unchanged`, cheaper, and would flatter the later runs).
RUNS = ("alone", "mix", "without pollers")
POLLERS = "portal pollers"


def classes(base: str, keys: dict[str, str], conventions: list[int], batches: dict[str, Path], run: str) -> dict:
    """Each class's wrk process, started (not awaited). The prescribers' file numbers are new in
    each run (the stamp), so that a second run on the same database meets no duplicate."""
    stamp = time.time_ns()
    return {
        POLLERS: lambda: wrk_script(
            "get.lua",
            base,
            threads=8,
            duration=MIX_SECONDS,
            arguments=[
                "label=GET /availability (portal key, If-None-Match)",
                f"path={AVAILABILITY_URL}",
                f"key={keys['poller']}",
                "etag=yes",
            ],
        ),
        "prescribers": lambda: wrk_script(
            "prescriber.lua",
            base,
            threads=2,
            duration=MIX_SECONDS,
            arguments=[
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
            arguments=[f"key={keys['admin']}", f"batches={batches[run]}", f"pause_ms={PAUSE_MS}"],
        ),
        "staff reader": lambda: wrk_script(
            "staff.lua",
            base,
            threads=1,
            duration=MIX_SECONDS,
            arguments=[f"key={keys['admin']}", f"paths={INDICATORS_URL}|{BILAN_URL}"],
        ),
    }


def measure_mix(url: str, admin_key: str) -> dict:
    keys = {
        "admin": admin_key,
        "poller": new_key(url, "portal", "make bench: portal poller"),
        "prescriber": new_key(url, "portal", "make bench: prescriber"),
    }
    with psycopg.connect(url) as connection:
        # Newest first: the exit figures closed the oldest open pathways.
        rows = list(reversed(open_pathways(connection)))
    share = len(rows) // len(RUNS)
    batches = {run: VAR / f"bench-exits-{run.replace(' ', '-')}.lua" for run in RUNS}
    size = min(exit_batches(batches[run], rows[i * share : (i + 1) * share]) for i, run in enumerate(RUNS))
    with served("app.main:app", url, 1) as (base, _server):
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
        print(
            f"mix: {MIX_SECONDS:g} s per run, one worker; exit batches of {size:,}, {PAUSE_MS} ms apart",
            flush=True,
        )
        alone: dict[str, dict] = {}
        for start in classes(base, keys, conventions, batches, "alone").values():
            alone |= script_results(start())
        together = run_at_once(classes(base, keys, conventions, batches, "mix"))
        others = classes(base, keys, conventions, batches, "without pollers")
        without_pollers = run_at_once({name: start for name, start in others.items() if name != POLLERS})
    table = []
    for label, by_itself in alone.items():
        mixed = together.get(label)
        assert mixed is not None, f"{label}: no answer under the mix"
        row = {"endpoint": label, "alone": by_itself, "mix": mixed, "without_pollers": without_pollers.get(label)}
        table.append(row)
        report(
            f"{label}: p95 under the mix",
            mixed["p95_ms"],
            "ms",
            "its p95 alone",
            by_itself["p95_ms"],
            goal="≤ 3",
        )
        runs = [("alone", by_itself), ("mix", mixed)]
        if row["without_pollers"] is not None:
            report(
                f"{label}: p95 under the mix without the portal pollers",
                row["without_pollers"]["p95_ms"],
                "ms",
                "its p95 alone",
                by_itself["p95_ms"],
            )
            runs.append(("mix without pollers", row["without_pollers"]))
        for run, result in runs:
            statuses = result["statuses"].items()
            non_2xx = {status: count for status, count in statuses if not status.startswith(("2", "3"))}
            print(
                f"  {run}: {result['count']:,} requests, p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms,"
                f" p99 {result['p99_ms']:.1f} ms; statuses {result['statuses']}"
                + (f" (NON-2xx: {non_2xx})" if non_2xx else "")
                + (f"; items {result['extra']}" if result["extra"] else "")
                + (f"; socket errors {result['errors']}" if result["errors"] else ""),
                flush=True,
            )
    return {"seconds": MIX_SECONDS, "exit_batch": size, "exit_pause_ms": PAUSE_MS, "endpoints": table}


def run_at_once(starts: dict) -> dict[str, dict]:
    """Start every class's wrk process, then collect their results (by endpoint)."""
    results: dict[str, dict] = {}
    for process in [start() for start in starts.values()]:
        results |= script_results(process)
    return results
