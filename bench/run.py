"""`make bench`: time the full bilan and a grouped /indicators query on a large demo data set,
on SQLite and on PostgreSQL, and write the figures into README.md.

Method: for each database, a fresh database is migrated, seeded, and filled with
`generate_demo(scale=BENCH_SCALE)` (default 100: about 920,000 pathways); then each request is
sent once to warm caches and REPEATS more times through the ASGI app in-process (no network),
and the median wall-clock time is reported. Each database runs in its own child process so that
the app's settings (DATABASE_URL) are those of that database.

Environment: BENCH_SCALE (default 100), BENCH_REPEATS (default 5), BENCH_POSTGRES_ADMIN_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
"""

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SCALE = int(os.environ.get("BENCH_SCALE", "100"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "pdi_bench"

REQUESTS = {
    "bilan (11 actions × 3 years, JSON)": "/api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31",
    "bilan as XLSX": "/api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31&format=xlsx",
    "indicators 2018–2020 grouped by action, year, territory": (
        "/api/v1/indicators?from=2018-01-01&to=2020-12-31&as_of=2020-12-31&group_by=action,year,territory"
    ),
    "availability on 2020-06-15 (all conventions)": "/api/v1/availability?on=2020-06-15&size=500",
}


def measure_here() -> dict:
    """In the child process: build the data set in DATABASE_URL, then time the requests."""
    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, text
    from sqlmodel import Session

    from app.auth.models import Role
    from app.auth.service import create_key
    from app.core.db import get_engine
    from app.core.migrate import upgrade_head
    from app.main import create_app
    from app.pathways.models import Pathway
    from seed.demo import generate_demo
    from seed.loader import load_catalogue

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    upgrade_head()
    started = time.perf_counter()
    with Session(get_engine()) as session:
        load_catalogue(session=session)
        generate_demo(session=session, scale=SCALE, progress=True)
        session.commit()
    generation_seconds = time.perf_counter() - started
    with Session(get_engine()) as session:
        pathways = session.execute(select(func.count()).select_from(Pathway)).scalar_one()
        version_query = "select sqlite_version()" if get_engine().dialect.name == "sqlite" else "show server_version"
        version = session.execute(text(version_query)).scalar_one().split()[0]
        _row, key = create_key(session=session, role=Role.admin, name="bench")
        session.commit()

    timings = {}
    with TestClient(create_app()) as client:
        headers = {"Authorization": f"Bearer {key}"}
        for label, url in REQUESTS.items():
            response = client.get(url, headers=headers)
            response.raise_for_status()
            runs = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                client.get(url, headers=headers).raise_for_status()
                runs.append(time.perf_counter() - started)
            timings[label] = statistics.median(runs)
    return {"pathways": pathways, "version": version, "generation_seconds": generation_seconds, "timings": timings}


def run_child(database_url: str) -> dict:
    # The child reports through a file: its stdout carries the demo's progress bar.
    report = ROOT / "var" / "bench-result.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"DATABASE_URL": database_url, "PDI_ENV": "development", "BENCH_REPORT": str(report)}
    subprocess.run([sys.executable, "-m", "bench.run", "--child"], env=env, cwd=ROOT, check=True)
    return json.loads(report.read_text())


def fresh_postgres() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {PG_BENCH_DB}"))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_BENCH_DB}"


def fresh_sqlite() -> str:
    path = ROOT / "var" / "bench.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def machine() -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown CPU",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    memory = ""
    if Path("/proc/meminfo").exists():
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def render(results: dict[str, dict]) -> str:
    names = list(results)
    counts = ", ".join(f"{results[name]['pathways']:,} pathways on {name} {results[name]['version']}" for name in names)
    lines = [
        BEGIN,
        f"Measured {date.today().isoformat()} by `make bench` on {machine()}; demo data at "
        f"`--scale {SCALE}` ({counts}); "
        f"median of {REPEATS} runs after one warm-up, in-process (no network).",
        "",
        "| request | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---:" for _ in names) + " |",
    ]
    for label in REQUESTS:
        lines.append(f"| {label} | " + " | ".join(f"{results[n]['timings'][label]:.2f} s" for n in names) + " |")
    lines.append(
        f"| generating the demo data (`pdi demo --scale {SCALE}`) | "
        + " | ".join(f"{results[n]['generation_seconds']:.0f} s" for n in names)
        + " |"
    )
    lines.append(END)
    return "\n".join(lines)


def write_readme(block: str) -> None:
    text = README.read_text()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        _old, after = rest.split(END, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n## Benchmarks\n\n" + block + "\n"
    README.write_text(text)


def main() -> None:
    if "--child" in sys.argv:
        Path(os.environ["BENCH_REPORT"]).write_text(json.dumps(measure_here()))
        return
    results = {"PostgreSQL": run_child(fresh_postgres()), "SQLite": run_child(fresh_sqlite())}
    block = render(results)
    print(block)
    write_readme(block)


if __name__ == "__main__":
    main()
