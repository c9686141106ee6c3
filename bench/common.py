"""What every figure of `make bench` shares: the settings read from the environment, the report
(each figure printed as measured, beside its reference, ratio and goal), the databases, the
servers under uvicorn, and wrk."""

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).resolve().parent / "lua"
VAR = ROOT / "var"

SCALE = int(os.environ.get("BENCH_SCALE", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("BENCH_DATABASE", "pdi_bench")

# The demo's last day: its pathways end by then, and 230,700 of them (at scale 100) are still
# open that day, as they would be today for a portal asking now.
ON = "2020-12-31"
AVAILABILITY_URL = f"/api/v1/availability?on={ON}&size=500"
ACTIONS_URL = "/api/v1/actions"
STATIC_URL = "/static"
ACTIONS_SQL_URL = "/actions-sql"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    ratio: float
    # The goal on the ratio ("≥ 0.8", "≤ 3"), and whether this run reached it.
    goal: str | None = None
    met: bool | None = None


FIGURES: list[Figure] = []


def report(
    name: str, value: float, unit: str, reference: str, reference_value: float, goal: str | None = None
) -> Figure:
    """Print a figure as measured, beside its reference, their ratio (value ÷ reference) and the
    goal on that ratio, and keep it for var/bench.json and docs/PERFORMANCE.md."""
    ratio = value / reference_value if reference_value else float("inf")
    met = None
    if goal is not None:
        sign, bound = goal.split()
        met = ratio >= float(bound) if sign == "≥" else ratio <= float(bound)
    figure = Figure(name, value, unit, reference, reference_value, ratio, goal, met)
    FIGURES.append(figure)
    beside = f"{reference}: {number(reference_value)} {unit}"
    verdict = f" | goal {goal}: {'met' if met else 'NOT met'}" if goal else ""
    print(f"{name}: {number(value)} {unit} | {beside} | ratio {format_ratio(ratio)}{verdict}", flush=True)
    return figure


def number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def format_ratio(value: float) -> str:
    # Two decimals, but two significant digits for a small ratio (0.0016, not 0.00).
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def interleaved_medians(*runs: Callable[[], object], repeats: int = REPEATS) -> list[float]:
    """Each run's median duration over `repeats`, the runs taking turns (so that whatever else
    the machine does falls on all of them alike)."""
    durations: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for index, run in enumerate(runs):
            durations[index].append(seconds(run))
    return [statistics.median(each) for each in durations]


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


def app_environment(url: str, **settings: str) -> dict[str, str]:
    return (
        os.environ
        | {
            "DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://", 1),
            "PDI_ENV": "development",
            "PDI_LOG_LEVEL": "WARNING",
            # wrk is one client hammering from one address: the limits a stranger meets would turn
            # the measure into a count of 429s. The throughput measured is the service's, unlimited.
            "PDI_RATE_LIMIT_ANONYMOUS": "0",
            "PDI_RATE_LIMIT_KEY": "0",
            "PDI_RATE_LIMIT_AUTH_FAILURES": "0",
        }
        | settings
    )


# The CLI of the code being measured (this checkout's `app`, as uvicorn imports it from the same
# directory), not whatever `pdi` script the virtualenv's editable install points to.
PDI = [sys.executable, "-m", "app.cli"]


def pdi(url: str, *arguments: str) -> str:
    """Run the `pdi` command on `url`; its standard output (progress goes to standard error)."""
    done = subprocess.run(
        [*PDI, *arguments], env=app_environment(url), cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True
    )
    return done.stdout


def new_key(url: str, role: str, name: str) -> str:
    return pdi(url, "keys", "create", "--role", role, "--name", name).strip().splitlines()[-1]


# The parallel workers the service's heavy reads plan with (PDI_HEAVY_READS_PARALLEL_WORKERS,
# app/core/bulkhead.py): the hand-written references of those reads plan with the same, so that a
# ratio compares the same work done the same way.
HEAVY_READS_PARALLEL_WORKERS = int(
    os.environ.get("PDI_HEAVY_READS_PARALLEL_WORKERS", Settings.model_fields["heavy_reads_parallel_workers"].default)
)


def plan_as_a_heavy_read(connection: psycopg.Connection) -> None:
    """Within the connection's transaction, what the service sets for a heavy read's."""
    connection.execute(f"SET LOCAL max_parallel_workers_per_gather = {HEAVY_READS_PARALLEL_WORKERS}")


def wait_for_quiet(url: str, timeout: float = 120) -> None:
    """Wait until no other session of the database runs a statement: a run that wrk stopped may
    leave a request the server still works on (a bilan takes seconds), which would load the next
    run's first seconds and hold its caller's heavy-read slot (a 503 counted against that run)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            busy = connection.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'"
            ).fetchone()[0]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the database still runs {busy} statements after {timeout:g} s")
            time.sleep(0.2)


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app: str, url: str, workers: int, **settings: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`app` under uvicorn on a free port, with the options the image's CMD gives it (Dockerfile:
    h11 with its cap on request heads, keep-alive 5 s, no server header; the access log on), the
    references alike; its base URL and process."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *("--no-server-header", "--http", "h11", "--h11-max-incomplete-event-size", "32768"),
        *("--timeout-keep-alive", "5"),
    ]
    log = (VAR / "bench-server.log").open("a")  # uvicorn's lines, kept off the report
    server = subprocess.Popen(
        command, env=app_environment(url, **settings), cwd=ROOT, stdout=log, stderr=log, start_new_session=True
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


# --- wrk --------------------------------------------------------------------------------------


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


def wrk_script(
    script: str, url: str, *, threads: int, duration: float, arguments: list[str] | None = None
) -> subprocess.Popen:
    """wrk running one of bench/lua's scripts: one connection per thread (the scripts time each
    request themselves, which needs one request in flight per thread), started, not awaited."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{threads}",
        f"-d{duration:g}s",
        "--timeout",
        "120s",
        "-s",
        str(LUA / script),
        url,
    ]
    if arguments:
        command += ["--", *arguments]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=LUA)


def script_results(process: subprocess.Popen) -> dict[str, dict]:
    """The per-label results a bench/lua script printed in `done` (one `BENCH {json}` line each)."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err}\n{out}")
    results = {}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            result = json.loads(line[len("BENCH ") :])
            results[result["label"]] = result
    if not results:
        raise RuntimeError(f"wrk printed no result:\n{out}\n{err}")
    return results
