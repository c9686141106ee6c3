"""Alembic owns the schema: the migrations reach head, match the models (no drift), and go all
the way down and up again, on the database of this test run (SQLite or PostgreSQL)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from app.core.migrate import alembic_config
from app.models import metadata
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
