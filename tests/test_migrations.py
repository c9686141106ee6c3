"""Alembic owns the schema: the migrations reach head, match the models (no drift), and go all
the way down and up again, on the database of this test run (SQLite or PostgreSQL); the seats'
triggers that the databases run are what app/seats/states.py defines today."""

import importlib.util
import re
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from app.core.migrate import alembic_config
from app.models import metadata
from app.seats import states
from tests.scratch import scratch_database

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the run's kind, dropped afterwards."""
    with scratch_database(tmp_path, "pdi_migrations") as url:
        yield url


def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_check_and_round_trip(scratch_database_url):
    config = alembic_config(scratch_database_url)

    command.upgrade(config, "head")
    assert tables_of(scratch_database_url) == set(metadata.tables)
    command.check(config)  # raises when the models and the migrations disagree

    command.downgrade(config, "base")
    assert tables_of(scratch_database_url) == set()

    command.upgrade(config, "head")
    assert tables_of(scratch_database_url) == set(metadata.tables)
    command.check(config)


# The migrations whose trigger SQL the databases run at head, each holding a frozen copy of what
# app/seats/states.py rendered then: c5d1e3a7f9b2's counters' triggers on SQLite (created again
# by d7a4c2e9f1b6 after its table rebuild), f3b7d1a9c5e2's functions on PostgreSQL and its
# changes by day on both. A migration that replaces the triggers takes their place here.
SEAT_TRIGGER_MIGRATIONS = ("c5d1e3a7f9b2", "f3b7d1a9c5e2")
ROWS_OF_A_TRIGGER = ("NEW", "OLD", "n", "o", "p", "r")
IMPORTS_SEATS = re.compile(r"^\s*(from|import) app\.seats", re.MULTILINE)


def migration(revision: str):
    (path,) = (Path(__file__).resolve().parents[1] / "migrations" / "versions").glob(f"*_{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"migration_{revision}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("revision", SEAT_TRIGGER_MIGRATIONS)
def test_the_seats_triggers_run_what_states_defines_today(revision):
    """A migration holds its own copy of the SQL it ran: had it imported states.py, a change there
    would alter a migration already applied, and the databases would keep the old triggers. So a
    change of what a pathway takes of a seat fails here until a new migration replaces them."""
    frozen = migration(revision)
    stale = "app/seats/states.py renders other SQL: write a migration that replaces the seats' triggers"
    for row in ROWS_OF_A_TRIGGER:
        assert frozen.NOW_COUNTS_SQL.keys() == states.now_counts_sql(row).keys()
        as_frozen = {name: sql.replace("{row}", row) for name, sql in frozen.NOW_COUNTS_SQL.items()}
        assert as_frozen == states.now_counts_sql(row), stale
    if hasattr(frozen, "day_changes_sql"):
        for rows, sign, dialect in product(("new_rows", "old_rows", "pathway"), (1, -1), ("postgresql", "sqlite")):
            assert frozen.day_changes_sql(rows, sign, dialect) == states.day_changes_sql(rows, sign, dialect), stale


def test_no_migration_imports_the_seats_definition():
    versions = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    importing = [path.name for path in versions.glob("*.py") if IMPORTS_SEATS.search(path.read_text())]
    assert importing == [], "freeze the SQL in the migration instead"
