"""`make bench`: SPEC C5's figures on PostgreSQL, each beside its reference measured in the same
run on the same machine, and their ratio (value ÷ reference). One line per figure is printed as it
is measured; all of them go to var/bench.json and to the table between the bench markers of
README.md.

- `pdi demo --scale N` (the real command) against a `COPY` of the same beneficiary and pathway
  rows into a fresh database;
- the full bilan 2018–2020 over HTTP (JSON) against one hand-written SQL query of its pathway
  figures (`BILAN_REFERENCE_SQL`);
- the ESF+ report of 2020 over HTTP (JSON) against one hand-written SQL query of its core counts
  (`ESF_REFERENCE_SQL`: participants, incomplete records, employed on leaving and six months
  after, per co-funded convention);
- exit records, batches of 1,000 through `POST /exit-records`, against psycopg `executemany`
  UPDATEs of the same rows, a transaction per 1,000;
- requests/s of availability (anonymous, as the portal polls it: answered from memory while the
  data has not changed; and with a key, which builds the page every time), of its 304
  revalidation and of `GET /actions`, with one worker and with two, against a static 50-item list
  of a FastAPI app (bench/static_app.py) served by the same uvicorn with as many workers;
- the memory (RSS) of a worker after its load against the static app's worker;
- webhooks: events/s delivered by `pdi worker` to one endpoint against a plain httpx client
  posting the same bodies to the same receiver, and the endpoint's lag meanwhile (bench/webhooks.py).

Requests/s come from wrk (`make bench` installs the Debian package when it is missing), one
thread, BENCH_CONNECTIONS connections (16), BENCH_SECONDS seconds (10) after 2 s of warm-up. The
bilan and its reference run alternately, BENCH_REPEATS times (5) after one warm-up each; the
median is kept. Throughput ratios are better above 1, durations below.

Environment: BENCH_SCALE (default 100: 922,600 pathways; 1 or 5 for a quick run), BENCH_DATABASE
(default pdi_bench; BENCH_DATABASE_copy is used for the COPY reference; both are dropped and made
anew), BENCH_POSTGRES_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres), and the
ones above. Timings are of the machine as it is: note what else runs on it.
"""

import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.webhooks import measure_webhooks

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
README = ROOT / "README.md"
REPORT = ROOT / "var" / "bench.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

SCALE = int(os.environ.get("BENCH_SCALE", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("BENCH_DATABASE", "pdi_bench")
BATCHES = 3
BATCH_SIZE = 1000
EXIT_DAY = date(2021, 6, 30)  # after every demo entry, in a year that is not consolidated
# The demo's last day: its pathways end by then, and 230,700 of them (at scale 100) are still
# open that day, as they would be today for a portal asking now.
ON = "2020-12-31"

BILAN_URL = "/api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31"
ESF_URL = "/api/v1/reports/esf?year=2020"
AVAILABILITY_URL = f"/api/v1/availability?on={ON}&size=500"
ACTIONS_URL = "/api/v1/actions"
STATIC_URL = "/static"

# What a person would write by hand for the bilan's pathway figures, per action and year (as_of
# 2020-12-31 is the last year's end, so no stay is cut short): persons present, days of stay,
# exits by kind, persons over their hours threshold. Of the natural forms (VALUES, a UNION ALL of
# constants, generate_series) it is the fastest one here. The bench checks that its figures are
# those the bilan shows.
BILAN_REFERENCE_SQL = """
WITH years AS (
    SELECT 2018 AS year, date '2018-01-01' AS first_day, date '2018-12-31' AS last_day
    UNION ALL SELECT 2019, date '2019-01-01', date '2019-12-31'
    UNION ALL SELECT 2020, date '2020-01-01', date '2020-12-31'
)
SELECT c.action_id, y.year,
    count(DISTINCT p.beneficiary_id) AS persons_present,
    sum(least(coalesce(p.exited_on, y.last_day), y.last_day) - greatest(p.entered_on, y.first_day) + 1) AS stay_days,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day) AS exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason IN (
        'employment_cdi', 'employment_cdd_over_6m', 'business_creation', 'civil_service',
        'employment_short', 'iae_contract', 'training', 'insertion_action')) AS dynamic_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason IN (
        'employment_cdi', 'employment_cdd_over_6m', 'business_creation', 'civil_service')) AS durable_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day
        AND p.exit_reason = 'business_creation') AS business_creation_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason NOT IN (
        'reoriented', 'dropped_out', 'moved', 'health', 'rsa_ended', 'other')) AS completed_exits,
    count(DISTINCT p.beneficiary_id) FILTER (WHERE p.hours >= cy.hours_threshold) AS hours_threshold_reached
FROM pathway p
JOIN convention c ON c.id = p.convention_id
JOIN years y ON p.entered_on <= y.last_day AND (p.exited_on IS NULL OR p.exited_on >= y.first_day)
LEFT JOIN convention_year cy ON cy.convention_id = p.convention_id AND cy.year = y.year
WHERE p.cancelled_on IS NULL
GROUP BY c.action_id, y.year
"""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    ratio: float


FIGURES: list[Figure] = []


def report(name: str, value: float, unit: str, reference: str, reference_value: float) -> None:
    figure = Figure(name, value, unit, reference, reference_value, value / reference_value)
    FIGURES.append(figure)
    beside = f"{reference}: {_number(reference_value)} {unit}"
    print(f"{name}: {_number(value)} {unit} | {beside} | ratio {_ratio(figure.ratio)}", flush=True)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _ratio(value: float) -> str:
    # Two decimals, but two significant digits for a small ratio (0.0016, not 0.00).
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


# --- databases --------------------------------------------------------------------------------


def database_url(name: str, driver: str = "postgresql") -> str:
    return ADMIN_URL.replace("postgresql://", f"{driver}://", 1).rsplit("/", 1)[0] + f"/{name}"


def fresh_database(name: str) -> str:
    """An empty database `name` (dropped first if it exists), migrated and seeded; its URL."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(name)
    pdi(url, "migrate")
    pdi(url, "seed")
    return url


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def app_environment(url: str) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://", 1),
        "PDI_ENV": "development",
        "PDI_LOG_LEVEL": "WARNING",
        # wrk is one client hammering from one address: the limits a stranger meets would turn
        # the measure into a count of 429s. The throughput measured is the service's, unlimited.
        "PDI_RATE_LIMIT_ANONYMOUS": "0",
        "PDI_RATE_LIMIT_KEY": "0",
        "PDI_RATE_LIMIT_AUTH_FAILURES": "0",
    }


def pdi(url: str, *arguments: str) -> str:
    """Run the `pdi` command on `url`; its standard output (progress goes to standard error)."""
    done = subprocess.run(
        [str(BIN / "pdi"), *arguments],
        env=app_environment(url),
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return done.stdout


# --- the demo load against COPY ---------------------------------------------------------------

COPIED_TABLES = ("beneficiary", "pathway", "pathway_participant", "follow_up")


def measure_demo_load(url: str) -> None:
    started = time.perf_counter()
    print(pdi(url, "demo", "--scale", str(SCALE)).strip(), flush=True)
    demo_seconds = time.perf_counter() - started

    copy_name = f"{DATABASE}_copy"
    copy_url = fresh_database(copy_name)
    rows = {}
    with psycopg.connect(url) as source:
        for table in COPIED_TABLES:
            buffer = io.BytesIO()
            with source.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))) as copy:
                for block in copy:
                    buffer.write(block)
            rows[table] = buffer.getvalue()
    with psycopg.connect(copy_url) as target:
        started = time.perf_counter()
        for table in COPIED_TABLES:
            with target.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
                copy.write(rows[table])
        target.commit()
        copy_seconds = time.perf_counter() - started
    drop_database(copy_name)
    report(f"demo load (pdi demo --scale {SCALE})", demo_seconds, "s", "COPY of the same rows", copy_seconds)


# --- servers and wrk --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app: str, url: str, workers: int) -> Iterator[tuple[str, subprocess.Popen]]:
    """`app` under uvicorn on a free port, as the image runs it; its base URL and process."""
    port = free_port()
    command = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    log = (ROOT / "var" / "bench-server.log").open("a")  # uvicorn's lines, kept off the report
    server = subprocess.Popen(
        command, env=app_environment(url), cwd=ROOT, stdout=log, stderr=log, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"{app} exited"
            try:
                if httpx.get(f"{base}/docs", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{app} did not start"
            time.sleep(0.2)
        yield base, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def requests_per_second(url: str, *headers: str) -> float:
    """wrk's requests/s on `url`, after a warm-up; fails when a request failed or timed out."""
    arguments = ["wrk", "-t1", f"-c{CONNECTIONS}", "--timeout", "60s"]
    for header in headers:
        arguments += ["-H", header]
    subprocess.run([*arguments, "-d2s", url], check=True, capture_output=True)
    output = subprocess.run([*arguments, f"-d{SECONDS}s", url], check=True, capture_output=True, text=True).stdout
    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)
    if failures or (timeouts and int(timeouts.group(1))):
        raise RuntimeError(f"wrk {url}: some requests failed\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def worker_rss_mib(server: subprocess.Popen) -> float:
    """Resident memory of the server's worker processes (the server itself with one worker), mean."""
    children = [
        int(pid)
        for task in Path(f"/proc/{server.pid}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()] or [server.pid]
    sizes = []
    for pid in workers:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return statistics.mean(sizes)


def measure_http(url: str, key: str, workers: int) -> None:
    label = "one worker" if workers == 1 else f"{workers} workers"
    reference = f"static 50-item list, {label}"
    with served("bench.static_app:app", url, workers) as (static_base, static_server):
        static = requests_per_second(static_base + STATIC_URL)
        static_rss = worker_rss_mib(static_server)
    with served("app.main:app", url, workers) as (base, server):
        etag = httpx.get(base + AVAILABILITY_URL, timeout=600).raise_for_status().headers["ETag"]
        assert httpx.get(base + AVAILABILITY_URL, headers={"If-None-Match": etag}, timeout=600).status_code == 304
        report(
            f"GET /availability (all conventions), anonymous, {label}",
            requests_per_second(base + AVAILABILITY_URL),
            "requests/s",
            reference,
            static,
        )
        report(
            f"GET /availability revalidated (304), anonymous, {label}",
            requests_per_second(base + AVAILABILITY_URL, f"If-None-Match: {etag}"),
            "requests/s",
            reference,
            static,
        )
        # A key holder's request is never answered from memory: the page is built every time.
        report(
            f"GET /availability (all conventions) built by the route, with a key, {label}",
            requests_per_second(base + AVAILABILITY_URL, f"Authorization: Bearer {key}"),
            "requests/s",
            reference,
            static,
        )
        report(
            f"GET /actions (public list), {label}",
            requests_per_second(base + ACTIONS_URL),
            "requests/s",
            reference,
            static,
        )
        if workers == 1:
            measure_bilan(base, url, key)
            measure_esf_report(base, url, key)
            measure_exit_records(base, url, key)
        report(
            f"memory per worker after its load, {label}",
            worker_rss_mib(server),
            "MiB RSS",
            "static app's worker",
            static_rss,
        )


# --- the bilan against hand-written SQL ---------------------------------------------------------


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure_bilan(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def bilan():
            return http.get(BILAN_URL).raise_for_status().json()

        def by_hand():
            rows = connection.execute(BILAN_REFERENCE_SQL).fetchall()
            connection.rollback()
            return rows

        check_same_figures(bilan(), by_hand(), connection)
        bilan_runs, hand_runs = [], []
        for _ in range(REPEATS):
            bilan_runs.append(seconds(bilan))
            hand_runs.append(seconds(by_hand))
    report(
        "full bilan 2018-2020 (HTTP, JSON)",
        statistics.median(bilan_runs),
        "s",
        "hand-written SQL of its pathway figures",
        statistics.median(hand_runs),
    )


def check_same_figures(bilan: dict, rows: list, connection: psycopg.Connection) -> None:
    """The reference computes what the bilan shows: its persons present and exits, action by action."""
    codes = dict(connection.execute("SELECT id, code FROM action").fetchall())
    connection.rollback()
    by_hand = {(codes[row[0]], str(row[1])): row for row in rows}
    columns = {"persons_present": 2, "exits": 4}
    compared = 0
    for family in bilan["families"]:
        for action in family["actions"]:
            for line in action["table"]:
                if line["indicator"] not in columns:
                    continue
                for year, value in line["values"].items():
                    row = by_hand.get((action["code"], year))
                    expected = row[columns[line["indicator"]]] if row else 0
                    assert value == expected, f"{action['code']} {line['indicator']} {year}: {value} != {expected}"
                    compared += 1
    assert compared > 0


# --- the ESF+ report against hand-written SQL -------------------------------------------------------

# The report's core counts as a person would write them for PostgreSQL: DISTINCT ON picks each
# person's first entry and last exit per convention (the report uses window functions, which
# SQLite has too).
ESF_REFERENCE_SQL = """
WITH cofunded AS (SELECT convention_id FROM convention_year WHERE year = 2020 AND fse_amount > 0),
firsts AS (
    SELECT DISTINCT ON (p.convention_id, p.person_key) p.id, p.convention_id, p.entered_on
    FROM pathway p JOIN cofunded USING (convention_id)
    WHERE p.entered_on IS NOT NULL AND p.cancelled_on IS NULL
    ORDER BY p.convention_id, p.person_key, p.entered_on, p.id
),
lasts AS (
    SELECT DISTINCT ON (p.convention_id, p.person_key) p.id, p.convention_id, p.exited_on, p.exit_reason
    FROM pathway p JOIN cofunded USING (convention_id)
    WHERE p.exited_on IS NOT NULL
    ORDER BY p.convention_id, p.person_key, p.exited_on DESC, p.id DESC
),
entrants AS (
    SELECT f.convention_id, count(*) AS participants,
        count(*) FILTER (WHERE pp.pathway_id IS NULL OR pp.labour_status IS NULL OR pp.education IS NULL
            OR pp.disability IS NULL OR pp.third_country_national IS NULL OR pp.foreign_background IS NULL
            OR pp.minority IS NULL OR pp.homeless IS NULL) AS incomplete
    FROM firsts f LEFT JOIN pathway_participant pp ON pp.pathway_id = f.id
    WHERE f.entered_on BETWEEN '2020-01-01' AND '2020-12-31'
    GROUP BY f.convention_id
),
leavers AS (
    SELECT l.convention_id,
        count(*) FILTER (WHERE l.exit_reason IN ('employment_cdi', 'employment_cdd_over_6m', 'business_creation',
            'civil_service', 'employment_short', 'iae_contract')) AS employed_on_leaving,
        count(*) FILTER (WHERE fu.situation IN ('employed_cdi', 'employed_cdd_over_6m', 'employed_short',
            'self_employed')) AS employed_6_months
    FROM lasts l LEFT JOIN follow_up fu ON fu.pathway_id = l.id
    WHERE l.exited_on BETWEEN '2020-01-01' AND '2020-12-31'
    GROUP BY l.convention_id
)
SELECT convention_id, coalesce(participants, 0), coalesce(incomplete, 0), coalesce(employed_on_leaving, 0),
    coalesce(employed_6_months, 0)
FROM entrants FULL JOIN leavers USING (convention_id)
ORDER BY convention_id
"""
ESF_CORE = ("participants", "incomplete", "employed_on_leaving", "employed_6_months")


def measure_esf_report(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def esf_report():
            return http.get(ESF_URL).raise_for_status().json()

        def by_hand():
            rows = connection.execute(ESF_REFERENCE_SQL).fetchall()
            connection.rollback()
            return rows

        check_same_esf_counts(esf_report(), by_hand())
        report_runs, hand_runs = [], []
        for _ in range(REPEATS):
            report_runs.append(seconds(esf_report))
            hand_runs.append(seconds(by_hand))
    report(
        "ESF+ report 2020 (HTTP, JSON)",
        statistics.median(report_runs),
        "s",
        "hand-written SQL of its core counts",
        statistics.median(hand_runs),
    )


def check_same_esf_counts(esf: dict, rows: list) -> None:
    """The reference computes what the report shows, convention by convention."""
    by_hand = {row[0]: row[1:] for row in rows}
    compared = 0
    for block in esf["conventions"]:
        totals = {row["indicator"]: row["values"]["total"] for row in block["rows"]}
        shown = (
            totals["participants"],
            block["incomplete"],
            totals["employed_on_leaving"],
            totals["employed_6_months"],
        )
        expected = tuple(by_hand.get(block["convention_id"], (0, 0, 0, 0)))
        assert shown == expected, f"convention {block['convention_id']}: {shown} != {expected} ({ESF_CORE})"
        compared += shown[0] > 0
    assert compared > 0, "the demo should give the co-funded conventions participants"


# --- exit records against raw UPDATEs -------------------------------------------------------------


def measure_exit_records(base: str, url: str, key: str) -> None:
    with psycopg.connect(url) as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM pathway WHERE entered_on <= %s AND exited_on IS NULL AND cancelled_on IS NULL"
                " ORDER BY id LIMIT %s",
                (EXIT_DAY, BATCHES * BATCH_SIZE),
            )
        ]
        # 1,000 a batch, as scripts send them; fewer at a small scale, which has fewer open pathways.
        size = min(BATCH_SIZE, len(ids) // BATCHES)
        batches = [ids[start : start + size] for start in range(0, BATCHES * size, size)]
        raw_runs = []
        for batch in batches:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE pathway SET exited_on = %s, exit_reason = %s, updated_at = now() WHERE id = %s",
                    [(EXIT_DAY, "employment_cdi", pathway_id) for pathway_id in batch],
                )
            connection.commit()
            raw_runs.append(time.perf_counter() - started)
        # The same rows open again, for the API.
        connection.execute("UPDATE pathway SET exited_on = NULL, exit_reason = NULL WHERE id = ANY(%s)", (ids,))
        connection.commit()
    api_runs = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
        for batch in batches:
            items = [
                {"pathway_id": pathway_id, "exited_on": EXIT_DAY.isoformat(), "exit_reason": "employment_cdi"}
                for pathway_id in batch
            ]
            started = time.perf_counter()
            answer = http.post("/api/v1/exit-records", json=items).raise_for_status().json()
            api_runs.append(time.perf_counter() - started)
            assert answer["counts"]["created"] == len(batch), answer["counts"]
    report(
        f"exit records, batches of {size:,}",
        size / statistics.median(api_runs),
        "exits/s",
        "psycopg executemany UPDATEs of the same rows",
        size / statistics.median(raw_runs),
    )


# --- the machine and the report -----------------------------------------------------------------


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
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def render(info: dict) -> str:
    lines = [
        BEGIN,
        f"Measured {info['date'][:10]} by `make bench` on {info['cores']} cores ({info['cpu']}), "
        f"{info['memory_gib']} GiB RAM, Python {info['python']}, PostgreSQL {info['postgresql']}, "
        f"{info['load_generator']}; demo data at `--scale {info['scale']}` ({info['pathways']:,} pathways). "
        f"Load average {info['load_average_at_start'][0]} at the start, {info['load_average_at_end'][0]} at the end.",
        "",
        "| figure | value | reference | reference value | ratio |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for figure in FIGURES:
        lines.append(
            f"| {figure.name} | {_number(figure.value)} {figure.unit} | {figure.reference} | "
            f"{_number(figure.reference_value)} {figure.unit} | {_ratio(figure.ratio)} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write_readme(block: str) -> None:
    text = README.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        _old, after = rest.split(END, 1)
        README.write_text(before + block + after)


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk (Debian package `wrk`): `make bench` installs it, or apt-get install wrk")
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    url = fresh_database(DATABASE)
    measure_demo_load(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")  # what autovacuum does after a load, before the reads
    key = pdi(url, "keys", "create", "--role", "admin", "--name", "make bench").strip().splitlines()[-1]
    measure_http(url, key, workers=1)
    measure_http(url, key, workers=2)
    measure_webhooks(
        url, key, served=served, pdi_command=str(BIN / "pdi"), app_environment=app_environment, report=report
    )
    info = machine(url, load_at_start)
    REPORT.write_text(json.dumps({"figures": [asdict(figure) for figure in FIGURES], "machine": info}, indent=2) + "\n")
    write_readme(render(info))
    print(f"written: {REPORT.relative_to(ROOT)} and README.md's bench table", flush=True)


if __name__ == "__main__":
    main()
