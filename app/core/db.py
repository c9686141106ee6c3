"""Engine and the per-request session."""

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, MetaData, bindparam, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from app.core.config import get_settings
from app.core.text import fold

# Named constraints: Alembic needs names to drop them, and SQLite's batch mode to rebuild tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


class PdiSession(Session):
    """The project's session: every session of the service, the CLI, the seed and the tests is one.

    The change feed's capture (app/outbox/capture.py) listens to this class, not to every
    SQLAlchemy session of the process: what it does is the project's business, bound to the
    project's sessions. It notes the rows each flush writes and turns the notes into feed rows at
    commit; a bulk statement on a table the feed serves is refused unless its writer noted what
    it changed (app.core.changes.note_change, then `execution_options(feed_noted=True)`).
    """


def make_engine(url: str, *, lock_timeout_ms: int | None = None, **kwargs) -> Engine:
    """The engine for `url`. No log line ever carries SQL parameters (`hide_parameters`): they
    hold pseudonyms and people's characteristics. Waits on locks are bounded on both databases
    (`PDI_DB_LOCK_TIMEOUT_MS` unless given), so that contention ends as a 503 with `Retry-After`,
    never as a hung request."""
    wait_ms = lock_timeout_ms if lock_timeout_ms is not None else get_settings().db_lock_timeout_ms
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, hide_parameters=True, pool_timeout=10, **kwargs
        )
        _make_sqlite_behave(engine, busy_timeout_ms=wait_ms)
        return engine
    return create_engine(
        url,
        # A connection the database dropped (restart, failover) is replaced before use.
        pool_pre_ping=True,
        pool_timeout=10,
        hide_parameters=True,
        # Plans made for the actual parameters, never a prepared statement's generic plan (psycopg
        # prepares a statement run five times): a date range's selectivity is the whole story of
        # availability's query (closed since today: a few rows; since 2019: a third of the table),
        # and the generic plan of that query scanned every open pathway (76 ms instead of 2).
        connect_args={
            "connect_timeout": 5,
            "options": f"-c lock_timeout={wait_ms} -c plan_cache_mode=force_custom_plan",
        },
        **kwargs,
    )


def _make_sqlite_behave(engine: Engine, *, busy_timeout_ms: int) -> None:
    """Foreign keys on, the text fold, and transactions SQLAlchemy controls itself.

    pysqlite's own transaction handling breaks SAVEPOINTs (which the tests and the
    all-or-nothing batches use); this is SQLAlchemy's documented recipe. A writer's transaction
    takes SQLite's write lock when it begins (`BEGIN IMMEDIATE`): a transaction that read first
    and asked for the lock later could not wait for it (SQLite answers "database is locked" at
    once, since waiting could deadlock), while one that asks first waits up to `busy_timeout`.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("pdi_fold", 1, _fold_or_null, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

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
    return make_engine(get_settings().database_url)


# Methods whose requests only read (a GET may still note an audit event: see the audit domain).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_session(engine: Engine, request: Request, *, write: bool = False) -> Iterator[Session]:
    """One session per request on `engine`: committed when the route returns, rolled back on any
    error; a request that may write (`write`, or any method but GET/HEAD/OPTIONS) gets a writer's
    transaction."""
    if write or request.method not in READ_METHODS:
        engine = writer_engine(engine)
    with PdiSession(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def get_session(request: Request) -> Iterator[Session]:
    yield from request_session(get_engine(), request)


def get_writer_session(request: Request) -> Iterator[Session]:
    yield from request_session(get_engine(), request, write=True)


# Ends before the response is sent (scope="function"), so a failed commit is the client's error
# response rather than a 200 for something that was never stored. Routes therefore return
# plain read models, built while the session is open.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
# For the GETs that write all the same: reads of personal data note an audit event. On SQLite a
# transaction that read first cannot wait for the write lock, so these take it up front.
WriterSessionDep = Annotated[Session, Depends(get_writer_session, scope="function")]


@lru_cache
def get_read_engine() -> Engine:
    """The engine of the routes that only read and may lag a moment behind the writes (indicators,
    the bilan): a replica's when PDI_READ_DATABASE_URL names one, the primary's otherwise."""
    url = get_settings().read_database_url
    return make_engine(url) if url else get_engine()


def get_read_session(request: Request) -> Iterator[Session]:
    yield from request_session(get_read_engine(), request)


# For read-only routes whose reads may go to a replica; never for a route that writes.
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (advisory locks, NOTIFY, arrays), not SQLite."""
    return session.get_bind().dialect.name == "postgresql"


def ids_in(column, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (…)` for row ids, written into the SQL as integer literals. As bound
    parameters, a page or a batch of hundreds of ids would be as many parameters, which psycopg
    parses anew at every execution (it caches the parsing of statements of 50 parameters or
    fewer); integers need no quoting."""
    return column.in_(bindparam(None, [int(value) for value in ids], expanding=True, literal_execute=True))
