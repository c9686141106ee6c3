"""Test fixtures: one database per run (SQLite by default, PostgreSQL with TEST_DATABASE_URL),
schema built by Alembic, each test inside a transaction rolled back at its end."""

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

_tmp = Path(tempfile.mkdtemp(prefix="pdi-tests-"))
# Under pytest-xdist each worker process (gw0, gw1…) has a database of its own: SQLite's is in the
# process's own temporary directory; PostgreSQL's is TEST_DATABASE_URL's name with the worker's
# suffix (`pdi_ci_…_gw0`), created when missing (.ci/run drops them with its own).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_database_url(url: str) -> str:
    if not XDIST_WORKER or url.startswith("sqlite"):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{XDIST_WORKER}").render_as_string(hide_password=False)


TEST_DATABASE_URL = _worker_database_url(os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_tmp / 'test.db'}")
# Set before the app is imported: the app's own engine (readyz, CLI) must see the test database.
os.environ["DATABASE_URL"] = TEST_DATABASE_URL
os.environ["PDI_ENV"] = "test"
# No feed watch per test client (a thread and a connection each): tests/concurrency/test_availability_cache.py
# turns it on where it is the subject.
os.environ["PDI_AVAILABILITY_CACHE"] = "0"
os.environ["PDI_VAR_DIR"] = str(_tmp / "var")
os.environ.setdefault("PDI_SECRET_KEY", "test-secret-for-pseudonymisation")
# The suite calls the API far faster than any client may: its app runs without rate limits
# (tests/core/test_rate_limits.py builds apps with them on).
for _budget in ("ANONYMOUS", "KEY", "AUTH_FAILURES"):
    os.environ[f"PDI_RATE_LIMIT_{_budget}"] = "0"

# The suite's hand-built programmes hold a few persons each, read with reader keys: no
# statistical secrecy unless a test turns it on (tests/indicators/test_small_cells.py).
os.environ["PDI_MIN_CELL_SIZE"] = "0"

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.auth.models import Role  # noqa: E402
from app.auth.service import create_key  # noqa: E402
from app.core.config import get_settings  # noqa: E402
from app.core.db import PdiSession, get_read_session, get_session, get_writer_session  # noqa: E402
from app.core.engines import get_engine, get_read_engine, get_request_engine, make_engine  # noqa: E402
from app.core.migrate import alembic_config, upgrade_head  # noqa: E402
from app.outbox.capture import install_feed_capture  # noqa: E402

# As the app's factory and the CLI do: the sessions the tests open write the feed (without it,
# PdiSession refuses to write; tests/changes/test_feed_capture_installed.py shows both).
install_feed_capture()

# People signed in with an identity provider (SPEC C10): its fixtures serve every domain's tests.
pytest_plugins = ["tests.people.fixtures", "tests.people.provider"]

IS_POSTGRES = TEST_DATABASE_URL.startswith(("postgres", "postgresql"))


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if IS_POSTGRES else 'SQLite'} ({TEST_DATABASE_URL.split('@')[-1]})"


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.postgres_only` / `sqlite_only` tests run on their database only. In an xdist
    worker (`make test`'s `-n … --dist worksteal`), the `slow` tests come first: a long test met
    last would run alone at the end while the other workers have nothing left."""
    in_worker = hasattr(config, "workerinput")
    for item in items:
        if item.get_closest_marker("postgres_only") and not IS_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL; runs in the PostgreSQL pass"))
        if item.get_closest_marker("sqlite_only") and IS_POSTGRES:
            item.add_marker(pytest.mark.skip(reason="SQLite only; runs in the SQLite pass"))
    if in_worker:
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres_only: runs only against PostgreSQL")
    config.addinivalue_line("markers", "sqlite_only: runs only against SQLite")
    config.addinivalue_line(
        "markers",
        "slow: starts a server, a subprocess, a browser or a database of its own, or generates many "
        "cases (schemathesis, hypothesis); `make test-fast` leaves these out",
    )


def _create_postgres_database(url: str) -> None:
    """The worker's database, when this is its first run on the server."""
    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).first()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        server.dispose()


def _reset_postgres(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    from alembic import command

    engine = make_engine(TEST_DATABASE_URL)
    try:
        if IS_POSTGRES and XDIST_WORKER:
            _create_postgres_database(TEST_DATABASE_URL)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # never a silent skip: a missing database fails the run
        pytest.exit(f"test database unreachable at {TEST_DATABASE_URL}: {exc}", returncode=3)
    if IS_POSTGRES:
        _reset_postgres(engine)
    command.upgrade(alembic_config(TEST_DATABASE_URL), "head")
    load_baseline(engine)
    yield engine
    engine.dispose()


def load_baseline(engine: Engine) -> None:
    """What every test starts from: the seed catalogue, committed once per run."""
    from seed.loader import load_catalogue

    with PdiSession(engine) as session:
        load_catalogue(session=session)
        session.commit()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside one transaction rolled back at the end."""
    connection = engine.connect()
    transaction = connection.begin()
    session = PdiSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    transaction.rollback()
    connection.close()


@pytest.fixture(scope="session")
def app():
    """One application for the whole run; each test binds it to its own session."""
    from app.main import create_app

    return create_app(get_settings())


@pytest.fixture
def client(app, session: Session) -> Iterator[TestClient]:
    def session_override():
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise

    # Reads meant for a replica see the test's transaction too (tests/core/test_read_replica.py
    # checks the replica itself).
    app.dependency_overrides[get_session] = session_override
    app.dependency_overrides[get_writer_session] = session_override
    app.dependency_overrides[get_read_session] = session_override
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.dependency_overrides.clear()


@dataclass
class Committed:
    """An application that commits as production does, the database it commits to (`engine`, a
    pool of its own: what it reads was committed) and an admin key stored there."""

    app: FastAPI
    engine: Engine
    admin: dict[str, str]

    def key(self, role: Role | str, operator_id: int | None = None) -> dict[str, str]:
        with PdiSession(self.engine) as session:
            _row, key = create_key(session=session, role=Role(role), name=f"committed {role}", operator_id=operator_id)
            session.commit()
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def committed(tmp_path_factory) -> Iterator[Committed]:
    """Production's commit path, which the `client` fixture replaces: the application's own
    sessions (get_session, get_writer_session, get_read_session, unreplaced, on the engines
    DATABASE_URL names) commit each request or roll it back, for real, in a database of the
    module's own (migrated, with the seed catalogue), dropped at the module's end."""
    from tests.scratch import scratch_database

    prefix = f"{make_url(TEST_DATABASE_URL).database}_committed" if IS_POSTGRES else "committed"
    with scratch_database(tmp_path_factory.mktemp("committed"), prefix) as url:
        upgrade_head(url)
        engine = make_engine(url)
        load_baseline(engine)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DATABASE_URL", url)
            _forget_the_engines()
            try:
                from app.main import create_app

                committed = Committed(app=create_app(get_settings()), engine=engine, admin={})
                committed.admin = committed.key(Role.admin)
                yield committed
            finally:
                _forget_the_engines()
                engine.dispose()


def _forget_the_engines() -> None:
    """The settings and the engines built from them are cached: built anew from DATABASE_URL."""
    for cached in (get_read_engine, get_request_engine, get_engine):
        if cached.cache_info().currsize:
            cached().dispose()
        cached.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def make_key(session: Session):
    """`make_key(role, operator_id=None)` → the Authorization headers of a fresh key."""

    def make(role: Role | str, operator_id: int | None = None, name: str | None = None) -> dict[str, str]:
        role = Role(role)
        _row, key = create_key(session=session, role=role, name=name or f"test {role}", operator_id=operator_id)
        session.commit()
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def admin(make_key) -> dict[str, str]:
    return make_key(Role.admin)


@pytest.fixture
def reader(make_key) -> dict[str, str]:
    return make_key(Role.reader)


@pytest.fixture
def portal(make_key) -> dict[str, str]:
    return make_key(Role.portal)
