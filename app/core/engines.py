"""Engines: `make_engine` for a database URL (waits on locks bounded on both databases, a silent
PostgreSQL server noticed, SQLite made to behave), and the engines of the process: the requests',
the read replica's, the CLI's and the worker's; `writer_engine` for transactions that write."""

import time
from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from app.core.budgets import (
    BUDGET_KEY,
    CONNECTED_BUDGET_KEY,
    DEADLINE_KEY,
    SILENCE_GRACE_SECONDS,
    BoundedConnection,
    DatabaseSilent,
    RequestConnections,
    deadline_passed,
    set_wait_limit,
)
from app.core.config import get_settings
from app.core.text import fold

# How long a pooled connection's ping may wait for the server (PostgreSQL).
PING_SECONDS = 2.0


def make_engine(
    url: str, *, lock_timeout_ms: int | None = None, statement_timeout_ms: int | None = None, **kwargs
) -> Engine:
    """The engine for `url`. No log line ever carries SQL parameters (`hide_parameters`): they
    hold pseudonyms and people's characteristics. Waits on locks are bounded on both databases
    (`PDI_DB_LOCK_TIMEOUT_MS` unless given), so that contention ends as a 503 with `Retry-After`,
    never as a hung request. `statement_timeout_ms`, on PostgreSQL, bounds every statement of
    its connections from the moment they connect (the requests' engine: see
    `apply_statement_budget`); the CLI's and the worker's engine has none."""
    wait_ms = lock_timeout_ms if lock_timeout_ms is not None else get_settings().db_lock_timeout_ms
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, hide_parameters=True, pool_timeout=10, **kwargs
        )
        _make_sqlite_behave(engine, busy_timeout_ms=wait_ms)
    else:
        engine = _postgres_engine(url, wait_ms=wait_ms, statement_timeout_ms=statement_timeout_ms, **kwargs)
    event.listen(engine, "checkin", lambda dbapi_connection, _record: RequestConnections.released(dbapi_connection))
    return engine


def _postgres_engine(url: str, *, wait_ms: int, statement_timeout_ms: int | None, **kwargs) -> Engine:
    options = f"-c lock_timeout={wait_ms} -c plan_cache_mode=force_custom_plan"
    if statement_timeout_ms is not None:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    # What a connection waits for the server at most outside the statements' budget: a pooled
    # connection's ping, and any statement of an engine with no budget but the ping.
    budget = statement_timeout_ms / 1000 + SILENCE_GRACE_SECONDS if statement_timeout_ms else None
    engine = create_engine(
        url,
        # A connection the database dropped (restart, failover) is replaced before use.
        pool_pre_ping=True,
        pool_timeout=10,
        hide_parameters=True,
        # Plans made for the actual parameters, never a prepared statement's generic plan (psycopg
        # prepares a statement run five times): a date range's selectivity is the whole story of
        # availability's query (closed since today: a few rows; since 2019: a third of the table),
        # and the generic plan of that query scanned every open pathway (76 ms instead of 2).
        # connect_timeout bounds the whole connection, the server's answers included (psycopg
        # counts it); keepalives and tcp_user_timeout notice a host that vanished.
        connect_args={
            "connect_timeout": get_settings().db_connect_timeout_seconds,
            "options": options,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 15_000,
        },
        **kwargs,
    )

    @event.listens_for(engine, "do_connect")
    def bounded_connection(_dialect, _record, cargs, cparams):
        return BoundedConnection.connect(*cargs, **cparams)

    @event.listens_for(engine, "connect")
    def note_the_budget(dbapi_connection, record):
        if statement_timeout_ms is not None:
            record.info[CONNECTED_BUDGET_KEY] = int(statement_timeout_ms)
        set_wait_limit(dbapi_connection, budget)

    # A pooled connection is pinged before use (pool_pre_ping): bounded by PING_SECONDS, and a
    # ping the server does not answer fails the checkout at once (503) rather than trying a new
    # connection to a server that answers nobody.
    @event.listens_for(engine, "checkin")
    def bound_the_ping(dbapi_connection, _record):
        set_wait_limit(dbapi_connection, PING_SECONDS)

    @event.listens_for(engine, "checkout")
    def bound_by_the_budget(dbapi_connection, _record, _proxy):
        set_wait_limit(dbapi_connection, budget)

    @event.listens_for(engine, "handle_error")
    def silent_ping_is_no_disconnect(context):
        if context.is_pre_ping and isinstance(context.original_exception, DatabaseSilent):
            context.is_disconnect = False

    return engine


def _make_sqlite_behave(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Foreign keys on, the text fold, and transactions SQLAlchemy controls itself.

    pysqlite's own transaction handling breaks SAVEPOINTs (which the tests and the
    all-or-nothing batches use); this is SQLAlchemy's documented recipe. A writer's transaction
    takes SQLite's write lock when it begins (`BEGIN IMMEDIATE`): a transaction that read first
    and asked for the lock later could not wait for it (SQLite answers "database is locked" at
    once, since waiting could deadlock), while one that asks first waits up to `busy_timeout`.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        # SQLite has no statement_timeout: this handler, called every few thousand steps of the
        # virtual machine, interrupts a statement once the deadline set before it has passed.
        info = record.info
        dbapi_connection.set_progress_handler(lambda: deadline_passed(info.get(DEADLINE_KEY)), 10_000)
        dbapi_connection.create_function("pdi_fold", 1, _fold_or_null, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def start_the_clock(connection, _cursor, _statement, _parameters, _context, _executemany):
        budget_ms = connection.info.get(BUDGET_KEY)
        connection.info[DEADLINE_KEY] = time.monotonic() + budget_ms / 1000 if budget_ms else None

    @event.listens_for(engine, "checkin")
    def stop_the_clock(_dbapi_connection, record):
        record.info.pop(BUDGET_KEY, None)
        record.info.pop(DEADLINE_KEY, None)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        writer = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def _fold_or_null(text: str | None) -> str | None:
    # NULL in, NULL out, as PostgreSQL's STRICT function does.
    return None if text is None else fold(text)


# Execution option of the connections of a transaction that writes (see writer_engine).
WRITER_OPTION = "pdi_writer"


def writer_engine(engine: Engine) -> Engine:
    """The same engine (same pool) for transactions that write: on SQLite they take the write
    lock up front; on PostgreSQL nothing changes (row locks and advisory locks do the work)."""
    return engine.execution_options(**{WRITER_OPTION: True})


@lru_cache
def get_engine() -> Engine:
    """The engine of the CLI, the worker, the health checks: statements unbounded."""
    return make_engine(get_settings().database_url)


@lru_cache
def get_request_engine() -> Engine:
    """The engine of the API's requests: on PostgreSQL its connections start with everyone's
    statement budget (PDI_DB_STATEMENT_TIMEOUT_MS), so that most transactions need no
    `SET LOCAL` (a round trip, and a fifth of a small read's time: py-spy, `GET /actions`)."""
    settings = get_settings()
    return make_engine(settings.database_url, statement_timeout_ms=settings.db_statement_timeout_ms)


@lru_cache
def get_read_engine() -> Engine:
    """The engine of the routes that only read and may lag a moment behind the writes (indicators,
    the bilan): a replica's when PDI_READ_DATABASE_URL names one, the primary's otherwise."""
    settings = get_settings()
    url = settings.read_database_url
    return make_engine(url, statement_timeout_ms=settings.db_statement_timeout_ms) if url else get_request_engine()
