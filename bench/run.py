"""`make bench`: SPEC C5's figures and issue 21's goals on PostgreSQL, each beside its reference
measured in the same run on the same machine, their ratio (value ÷ reference) and, where the issue
sets one, the goal on that ratio. One line per figure is printed as it is measured; all of them go
to var/bench.json and to the table between the bench markers of docs/PERFORMANCE.md. Everything is measured
through HTTP as the clients call, the app as it is.

- bench/figures/demo.py: `pdi demo --scale N` against a `COPY` of the same rows;
- bench/figures/http.py: requests/s of availability (anonymous, with a portal key, and their
  304s) and of `GET /actions`, against bench/static_app.py's static list and hand-written SQL
  endpoint, one worker then two; memory per worker;
- bench/figures/reports.py: the full bilan, the ESF+ report and `/indicators` against
  hand-written SQL of their core counts, each checked to give the endpoint's numbers;
- bench/figures/weekly_hours.py: the first page of `GET /weekly-hours` against hand-written SQL
  of the same sums, checked to give the endpoint's numbers;
- bench/figures/past_day.py: availability built for a past day against the data's last day;
- bench/figures/fresh_load.py: the feed's catch-up and the exits by natural key on the database
  as `pdi demo` left it, against the same on a copy after `VACUUM ANALYZE` (which the bench then
  runs on its database, as autovacuum would, before the other figures);
- bench/figures/feed.py: the feed's catch-up against a keyset scan, and the polls with nothing new
  (the feed's, availability's 304) against a GET of the static list;
- bench/figures/exits.py: exit-record batches, by pathway_id and by natural key, against
  executemany of the same UPDATEs;
- bench/webhooks.py: webhook deliveries against a plain httpx client;
- bench/figures/mix.py: on two workers, 60-second runs of clients (wrk with bench/lua's scripts),
  each endpoint's p95 under the mix as users load it (portals polling at their real rate, open
  loop) and under a stress (8 closed-loop pollers) against its p95 alone; the prescriptions' p95
  beside one reader key flooding heavy reads, against alone.

Requests/s come from wrk (`make bench` installs the Debian package when it is missing), one
thread, BENCH_CONNECTIONS connections (16), BENCH_SECONDS seconds (10) after 2 s of warm-up.
Reports and their references run alternately, BENCH_REPEATS times (5); the median is kept.

Environment: BENCH_SCALE (default 100: 922,600 pathways; 1 or 5 for a quick run), BENCH_DATABASE
(default pdi_bench; BENCH_DATABASE_copy is used for the COPY reference; both are dropped and made
anew), BENCH_POSTGRES_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
BENCH_MIX_SECONDS (120), BENCH_MIX_EXIT_PAUSE_MS (5000), BENCH_PORTALS (10) and BENCH_POLL_RATE (20
requests/s in all) for the mix's pollers, BENCH_PRESCRIPTION_RATE (2 a second), BENCH_STAFF_INTERVAL_MS
(5000), BENCH_REDIS_URL (redis://127.0.0.1:6379, the mix's shared store), and BENCH_ONLY (a comma-separated list of
the sections below, for working on one: without `demo` the database of an earlier run is reused;
`fresh` needs `demo`).
Timings are of the machine as it is: note what else runs on it.
"""

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import psycopg

from bench.common import (
    DATABASE,
    FIGURES,
    PDI,
    ROOT,
    SCALE,
    VAR,
    app_environment,
    database_url,
    format_ratio,
    fresh_database,
    new_key,
    number,
    report,
    served,
)
from bench.figures.demo import measure_demo_load
from bench.figures.exits import measure_exit_records
from bench.figures.feed import measure_feed_figures
from bench.figures.fresh_load import measure_fresh_load, vacuum_analyze
from bench.figures.http import measure_http
from bench.figures.mix import measure_mix
from bench.figures.past_day import measure_past_day
from bench.figures.reports import measure_bilan, measure_esf_report, measure_indicators
from bench.figures.weekly_hours import measure_weekly_hours
from bench.webhooks import measure_webhooks

REPORT_PAGE = ROOT / "docs" / "PERFORMANCE.md"
REPORT = VAR / "bench.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SECTIONS = ("demo", "fresh", "http", "reports", "past_day", "feed", "exits", "http2", "webhooks", "mix")
ONLY = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name] or list(SECTIONS)


def machine(url: str, load_at_start: list[float]) -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(url) as connection:
        server = connection.execute("SHOW server_version").fetchone()[0].split()[0]
        pathways = connection.execute("SELECT count(*) FROM pathway").fetchone()[0]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[:2]
    return {
        "date": datetime.now().astimezone().isoformat(timespec="minutes"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": server,
        "load_generator": " ".join(wrk),
        "scale": SCALE,
        "pathways": pathways,
        "sections": ONLY,
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def render(info: dict, mix: dict | None) -> str:
    lines = [
        BEGIN,
        f"Measured {info['date'][:16].replace('T', ' ')} by `make bench` on {info['cores']} cores ({info['cpu']}), "
        f"{info['memory_gib']} GiB RAM, Python {info['python']}, PostgreSQL {info['postgresql']}, "
        f"{info['load_generator']}; demo data at `--scale {info['scale']}` ({info['pathways']:,} pathways). "
        f"Load average (1, 5, 15 min) {', '.join(map(str, info['load_average_at_start']))} at the start, "
        f"{', '.join(map(str, info['load_average_at_end']))} at the end.",
        "",
        "| figure | value | reference | reference value | ratio | goal |",
        "| --- | ---: | --- | ---: | ---: | --- |",
    ]
    for figure in FIGURES:
        goal = f"{figure.goal} {'met' if figure.met else '**not met**'}" if figure.goal else ""
        lines.append(
            f"| {figure.name} | {number(figure.value)} {figure.unit} | {figure.reference} | "
            f"{number(figure.reference_value)} {figure.unit} | {format_ratio(figure.ratio)} | {goal} |"
        )
    if mix:
        lines += [
            "",
            f"The mix ({mix['seconds']:g} s a run, {mix['workers']} workers), latencies in ms: each endpoint alone,"
            f" under the mix as users load it ({mix['portals']} portal keys polling availability at"
            f" {mix['poll_rate']:g} requests/s in all, {mix['prescription_rate']:g} prescriptions/s, an exit batch"
            f" every {mix['exit_pause_ms'] / 1000:g} s, a staff read every {mix['staff_interval_ms'] / 1000:g} s,"
            " open loop: latency from when each request was due), then under the stress (8 closed-loop pollers,"
            " the prescribers and the staff reader closed loop, an exit batch every second):",
            "",
            "| endpoint | alone: requests | p50 | p95 | p99 | mix: requests | p50 | p95 | p99 | statuses "
            "| stress: requests | p50 | p95 | p99 | statuses |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in mix["endpoints"]:
            cells = [row["endpoint"]]
            for run in ("alone", "mix", "stress"):
                result = row[run]
                cells += [f"{result['count']:,}", *(f"{result[q]:.1f}" for q in ("p50_ms", "p95_ms", "p99_ms"))]
                if run != "alone":
                    cells.append(statuses_of(result))
            lines.append("| " + " | ".join(cells) + " |")
        flood = mix["flood"]
        prescriptions, heavy = flood["prescriptions"], flood["heavy_reads"]
        lines += [
            "",
            f"Beside one reader key flooding heavy reads ({heavy['count']:,} requests, {statuses_of(heavy)}),"
            f" prescriptions: {prescriptions['count']:,} requests, p50 {prescriptions['p50_ms']:.1f},"
            f" p95 {prescriptions['p95_ms']:.1f}, p99 {prescriptions['p99_ms']:.1f} ms ({statuses_of(prescriptions)}).",
        ]
    lines.append(END)
    return "\n".join(lines)


def statuses_of(result: dict) -> str:
    return ", ".join(f"{status}: {count:,}" for status, count in sorted(result["statuses"].items()))


def write_report_page(block: str) -> None:
    text = REPORT_PAGE.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        _old, after = rest.split(END, 1)
        REPORT_PAGE.write_text(before + block + after)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian package `wrk`): `make bench` installs it, or apt-get install wrk")
    unknown = set(ONLY) - set(SECTIONS)
    if unknown:
        sys.exit(f"BENCH_ONLY: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    VAR.mkdir(parents=True, exist_ok=True)
    if "fresh" in ONLY and "demo" not in ONLY:
        sys.exit("BENCH_ONLY: `fresh` measures the database pdi demo has just loaded: add `demo`")
    url = fresh_database(DATABASE) if "demo" in ONLY else database_url(DATABASE)
    if "demo" in ONLY:
        measure_demo_load(url)
    admin_key = new_key(url, "admin", "make bench")
    portal_key = new_key(url, "portal", "make bench: portal")
    if "fresh" in ONLY:
        measure_fresh_load(url, admin_key)
    if "demo" in ONLY:
        vacuum_analyze(url)  # what autovacuum does after a load, before the other figures

    def one_worker_figures(base: str, static_base: str) -> None:
        if "reports" in ONLY:
            measure_bilan(base, url, admin_key)
            measure_esf_report(base, url, admin_key)
            measure_indicators(base, url, admin_key)
            measure_weekly_hours(base, url, admin_key)
        if "past_day" in ONLY:
            measure_past_day(base)
        if "feed" in ONLY:
            measure_feed_figures(base, static_base, url, admin_key, portal_key)
        if "exits" in ONLY:
            measure_exit_records(base, url, admin_key)

    if "http" in ONLY:
        measure_http(url, portal_key, workers=1, during_one_worker=one_worker_figures)
    elif {"reports", "past_day", "feed", "exits"} & set(ONLY):
        with (
            served("bench.static_app:app", url, 1) as (static_base, _static),
            served("app.main:app", url, 1) as (base, _server),
        ):
            one_worker_figures(base, static_base)
    if "http2" in ONLY:
        measure_http(url, portal_key, workers=2)
    if "webhooks" in ONLY:
        measure_webhooks(url, admin_key, served=served, pdi_command=PDI, app_environment=app_environment, report=report)
    mix = measure_mix(url, admin_key) if "mix" in ONLY else None
    info = machine(url, load_at_start)
    figures = [asdict(figure) for figure in FIGURES]
    REPORT.write_text(json.dumps({"figures": figures, "machine": info, "mix": mix}, indent=2) + "\n")
    write_report_page(render(info, mix))
    goals = [figure for figure in FIGURES if figure.goal]
    missed = [figure.name for figure in goals if not figure.met]
    verdict = f"; not met: {'; '.join(missed)}" if missed else ""
    print(f"goals met: {len(goals) - len(missed)} of {len(goals)}{verdict}", flush=True)
    print(f"written: {REPORT.relative_to(ROOT)} and docs/PERFORMANCE.md's bench table", flush=True)


if __name__ == "__main__":
    main()
