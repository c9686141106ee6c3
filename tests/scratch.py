"""Databases of their own for tests that must commit for real (races, faults, migrations): an
SQLite file or a PostgreSQL database on the run's server, of the run's kind, dropped afterwards."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import IS_POSTGRES, TEST_DATABASE_URL


@contextmanager
def scratch_database(directory: Path, prefix: str) -> Iterator[str]:
    """The URL of an empty database, dropped when the block ends."""
    if not IS_POSTGRES:
        yield f"sqlite:///{directory / f'{prefix}.db'}"
        return
    url = make_url(TEST_DATABASE_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()
