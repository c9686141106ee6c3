"""Alembic owns the schema: the migrations reach head, match the models (no drift), and go all
the way down and up again, on the database of this test run (SQLite or PostgreSQL)."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.core.migrate import alembic_config
from app.models import metadata
from tests.conftest import IS_POSTGRES, TEST_DATABASE_URL


@pytest.fixture
def scratch_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the run's kind, dropped afterwards."""
    if not IS_POSTGRES:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(TEST_DATABASE_URL)
    name = f"pdi_migrations_{uuid.uuid4().hex[:10]}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


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
