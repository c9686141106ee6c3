"""The README's backup and restore procedure, run for real (SPEC C14): a database loaded by
`pdi demo` is dumped by the backup service's script (docker/backup.sh, `pg_dump -Fc`), restored
into a fresh database by docker/restore.sh (pg_restore, ANALYZE, `pdi check`), and both are
served by `pdi serve` on loopback: the restored service answers the same bilan, the same feed
from cursor 0 (every page) and the same seat counts. PostgreSQL only (the pass .ci/run runs)."""

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.core.config import PROJECT_ROOT
from app.core.migrate import upgrade_head
from seed.demo.writer import DEMO_TABLES
from seed.loader import CATALOGUE_TABLES
from tests.scratch import scratch_database
from tests.servers import free_port, wait_until_serving
from tests.test_check import scratch_prefix
from tests.test_docker import VENV_BIN

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

BACKUP = PROJECT_ROOT / "docker" / "backup.sh"
RESTORE = PROJECT_ROOT / "docker" / "restore.sh"
BILAN = "/api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31"
# Days the demo's conventions run (2018-2020) and today (the counters' own figures).
SEAT_DAYS = ("2018-06-30", "2019-12-31", "2020-06-30", None)


def libpq_environment(url: str) -> dict[str, str]:
    """PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE for the database of a SQLAlchemy URL."""
    parsed = make_url(url)
    values = {
        "PGHOST": parsed.host or "127.0.0.1",
        "PGPORT": str(parsed.port or 5432),
        "PGUSER": parsed.username or "postgres",
        "PGPASSWORD": parsed.password or "",
        "PGDATABASE": parsed.database,
    }
    return {name: value for name, value in values.items() if value}


def pdi(url: str, *arguments: str) -> subprocess.CompletedProcess:
    """A `pdi` command as an operator runs it, against the database at `url`."""
    environment = {**os.environ, "DATABASE_URL": url, "PDI_PROGRESS_INTERVAL_SECONDS": "60"}
    return subprocess.run(
        [str(VENV_BIN / "pdi"), *arguments], env=environment, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A database loaded by `pdi demo` at scale 1, and an admin key stored in it."""
    with scratch_database(tmp_path_factory.mktemp("drill"), scratch_prefix("drill")) as url:
        upgrade_head(url)
        demo = pdi(url, "demo", "--scale", "1")
        assert demo.returncode == 0, demo.stderr
        created = pdi(url, "keys", "create", "--role", "admin", "--name", "restore drill")
        assert created.returncode == 0, created.stderr
        yield url, created.stdout.strip().splitlines()[-1]


def test_pdi_demo_leaves_the_tables_it_filled_analysed(demo_database):
    url, _key = demo_database
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            analysed = dict(
                connection.execute(
                    text(
                        "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = 'public'"
                    )
                ).all()
            )
            with_statistics = set(
                connection.execute(
                    text("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = 'public'")
                ).scalars()
            )
    finally:
        engine.dispose()
    filled = {getattr(table, "__tablename__", table) for table in (*CATALOGUE_TABLES, *DEMO_TABLES)}
    assert {table for table in filled if not analysed.get(table)} == set()
    assert {"pathway", "beneficiary", "change", "convention_seats"} <= with_statistics


@contextmanager
def serving(url: str, log: Path) -> Iterator[str]:
    """`pdi serve` on a free loopback port for the database at `url`; its base URL."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": url, "PDI_WORKER_IN_PROCESS": "false"}
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(VENV_BIN / "pdi"), "serve", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_serving(server, port, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def whole_feed(http: httpx.Client, base: str, key: str) -> list[dict]:
    items, after = [], 0
    while True:
        response = http.get(
            f"{base}/api/v1/changes", params={"after": after, "limit": 1000}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["items"]:
            return items
        items += page["items"]
        after = page["next"]


def seat_counts(http: httpx.Client, base: str) -> dict:
    counts = {}
    for day in SEAT_DAYS:
        page_number = 1
        while True:
            params = {"page": page_number, "size": 100, **({"on": day} if day else {})}
            response = http.get(f"{base}/api/v1/availability", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            for item in page["items"]:
                counts[day, item["convention_id"]] = item
            if page_number * 100 >= page["total"]:
                break
            page_number += 1
    return counts


def served_answers(url: str, key: str, log: Path) -> dict:
    with serving(url, log) as base, httpx.Client(timeout=120, trust_env=False) as http:
        bilan = http.get(f"{base}{BILAN}", headers={"Authorization": f"Bearer {key}"})
        assert bilan.status_code == 200, bilan.text
        return {"bilan": bilan.json(), "feed": whole_feed(http, base, key), "seats": seat_counts(http, base)}


def test_a_backup_restored_into_a_fresh_database_answers_the_same(demo_database, tmp_path):
    url, key = demo_database
    backups = tmp_path / "backups"
    dumped = subprocess.run(
        ["sh", str(BACKUP)],
        env={**os.environ, **libpq_environment(url), "BACKUP_DIR": str(backups), "BACKUP_ONCE": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dumped.returncode == 0, dumped.stderr
    (dump,) = backups.glob("*.dump")

    restored_name = f"{make_url(url).database}_restored"
    restored_url = make_url(url).set(database=restored_name).render_as_string(hide_password=False)
    server = {name: value for name, value in libpq_environment(url).items() if name != "PGDATABASE"}
    try:
        restore = subprocess.run(
            ["bash", str(RESTORE), str(dump), restored_name],
            env={**os.environ, **server, "PDI_CHECK_URL": restored_url, "PDI": str(VENV_BIN / "pdi")},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert ": ok (migrations, seat counters, seat changes by day, change feed)" in restore.stdout
        assert "never analysed" not in restore.stderr  # the procedure's ANALYZE

        original = served_answers(url, key, tmp_path / "original.log")
        copy = served_answers(restored_url, key, tmp_path / "restored.log")
        assert original["feed"] and any(item["kind"] == "pathway" for item in original["feed"])
        assert copy["feed"] == original["feed"]
        assert copy["bilan"] == original["bilan"]
        assert any(item["occupied"] for item in original["seats"].values())
        assert copy["seats"] == original["seats"]
    finally:
        subprocess.run(
            ["dropdb", "--if-exists", "--force", restored_name], env={**os.environ, **server}, check=False, timeout=60
        )


def test_the_restore_refuses_a_database_that_exists(demo_database, tmp_path):
    """Restoring over a database in use would mix two states: the script stops before pg_restore."""
    url, _key = demo_database
    environment = {name: value for name, value in libpq_environment(url).items() if name != "PGDATABASE"}
    result = subprocess.run(
        ["bash", str(RESTORE), str(tmp_path / "unused.dump"), make_url(url).database],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "already exists" in result.stderr and "pg_restore" not in result.stdout


def test_backups_keep_the_newest_and_drop_interrupted_ones(demo_database, tmp_path):
    url, _key = demo_database
    backups = tmp_path / "backups"
    backups.mkdir()
    name = make_url(url).database
    for stamp in ("20200101T000000Z", "20210101T000000Z", "20220101T000000Z"):
        (backups / f"{name}-{stamp}.dump").write_bytes(b"an older backup")
    (backups / f"{name}-20230101T000000Z.dump.partial").write_bytes(b"interrupted")
    result = subprocess.run(
        ["sh", str(BACKUP)],
        env={
            **os.environ,
            **libpq_environment(url),
            "BACKUP_DIR": str(backups),
            "BACKUP_ONCE": "true",
            "BACKUP_KEEP": "2",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    kept = sorted(path.name for path in backups.iterdir())
    assert len(kept) == 2 and kept[0] == f"{name}-20220101T000000Z.dump", kept
    listing = subprocess.run(["pg_restore", "--list", str(backups / kept[1])], capture_output=True, text=True)
    assert listing.returncode == 0 and "TABLE DATA public pathway" in listing.stdout
