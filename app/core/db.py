"""Engine and the per-request session."""

import json
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import psycopg
import psycopg.errors
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    MetaData,
    bindparam,
    column,
    event,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine
from sqlmodel import Session, SQLModel, create_engine

from app.core.changes import refuse_writes_until_feed_captured
from app.core.config import get_settings
from app.core.text import fold

# psycopg's own interval between checks for a signal while it waits (its default).
_PSYCOPG_WAIT_INTERVAL = 0.1
# How long a pooled connection's ping may wait for the server (PostgreSQL).
PING_SECONDS = 2.0
# A statement's wait on the server beyond its budget before the client gives up on a server that
# does not answer: time for the server's own statement_timeout to come back first when it runs.
SILENCE_GRACE_SECONDS = 1.0

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


refuse_writes_until_feed_captured(PdiSession)


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


class DatabaseSilent(psycopg.OperationalError):
    """The server did not answer within the connection's limit (it is frozen, or the network
    under it is gone): the connection is closed, so that nothing waits on it again."""


class _BoundedConnection(psycopg.Connection):
    """A psycopg connection whose every wait on the server ends after `wait_limit` seconds (None:
    unbounded): a statement's budget and SILENCE_GRACE_SECONDS. PostgreSQL enforces
    statement_timeout itself, but a server that is stopped (SIGSTOP, a VM paused) enforces
    nothing, and its kernel still acknowledges what is sent, so neither TCP keepalives nor
    tcp_user_timeout notice: only the client's own clock does."""

    wait_limit: float | None = None

    def wait(self, gen, interval=_PSYCOPG_WAIT_INTERVAL, timeout=None):
        limit = self.wait_limit
        if limit is None or (timeout is not None and timeout <= limit):
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, limit)
        except psycopg.errors._WaitTimeout:
            self.close()
            raise DatabaseSilent(f"the database did not answer within {limit:g} s: connection closed") from None


def _set_wait_limit(dbapi_connection, seconds: float | None) -> None:
    if isinstance(dbapi_connection, _BoundedConnection):
        dbapi_connection.wait_limit = seconds


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
        return _BoundedConnection.connect(*cargs, **cparams)

    @event.listens_for(engine, "connect")
    def note_the_budget(dbapi_connection, record):
        if statement_timeout_ms is not None:
            record.info[_CONNECTED_BUDGET_MS] = int(statement_timeout_ms)
        _set_wait_limit(dbapi_connection, budget)

    # A pooled connection is pinged before use (pool_pre_ping): bounded by PING_SECONDS, and a
    # ping the server does not answer fails the checkout at once (503) rather than trying a new
    # connection to a server that answers nobody.
    @event.listens_for(engine, "checkin")
    def bound_the_ping(dbapi_connection, _record):
        _set_wait_limit(dbapi_connection, PING_SECONDS)

    @event.listens_for(engine, "checkout")
    def bound_by_the_budget(dbapi_connection, _record, _proxy):
        _set_wait_limit(dbapi_connection, budget)

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
        dbapi_connection.set_progress_handler(lambda: _past(info.get(_DEADLINE)), 10_000)
        dbapi_connection.create_function("pdi_fold", 1, _fold_or_null, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def start_the_clock(connection, _cursor, _statement, _parameters, _context, _executemany):
        budget_ms = connection.info.get(_BUDGET_MS)
        connection.info[_DEADLINE] = time.monotonic() + budget_ms / 1000 if budget_ms else None

    @event.listens_for(engine, "checkin")
    def stop_the_clock(_dbapi_connection, record):
        record.info.pop(_BUDGET_MS, None)
        record.info.pop(_DEADLINE, None)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        writer = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


_BUDGET_MS = "pdi_statement_budget_ms"
_DEADLINE = "pdi_statement_deadline"
# The statement_timeout a PostgreSQL connection got when it connected (the requests' engine).
_CONNECTED_BUDGET_MS = "pdi_connected_statement_budget_ms"


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


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


# Methods whose requests only read (a GET may still note an audit event: see the audit domain).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_session(engine: Engine, request: Request, *, write: bool = False) -> Iterator[Session]:
    """One session per request on `engine`: committed when the route returns, rolled back on any
    error; a request that may write (`write`, or any method but GET/HEAD/OPTIONS) gets a writer's
    transaction. Each of its transactions bounds its statements by the caller's budget
    (`statement_budget_ms`), and its connections can be cancelled while the request runs
    (`RequestConnections`)."""
    with _request_session(engine, request, write=write) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


@asynccontextmanager
async def request_session_async(engine: Engine, request: Request, *, write: bool = False) -> AsyncIterator[Session]:
    """`request_session` for the event loop: opening a session touches no database, so it is done
    here rather than in the threadpool, and its end takes the threadpool only when a transaction
    (or a pending write) is there to commit or roll back. A thread hop costs about as much as the
    rest of a small read (py-spy, `GET /actions`), and a route needs only its own."""
    with _request_session(engine, request, write=write) as session:
        try:
            yield session
        except Exception:
            if _has_work(session):
                await run_in_threadpool(session.rollback)
            raise
        if _has_work(session):
            await run_in_threadpool(session.commit)


def _has_work(session: Session) -> bool:
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


@contextmanager
def _request_session(engine: Engine, request: Request, *, write: bool) -> Iterator[Session]:
    if write or request.method not in READ_METHODS:
        engine = writer_engine(engine)
    with PdiSession(engine, expire_on_commit=False, info={_REQUEST: request}) as session:
        yield session


# The request a session serves (its `info`), for the listener below: one listener on the class,
# not one registered on each session (which cost a tenth of a small read's time).
_REQUEST = "pdi.request"


@event.listens_for(PdiSession, "after_begin")
def _bound_and_tracked(session: Session, _transaction, connection) -> None:
    """Each transaction of a request's session: bounded by the caller's budget, its connection
    cancellable while the request runs."""
    request = session.info.get(_REQUEST)
    if request is None:
        return
    apply_statement_budget(connection, statement_budget_ms(request))
    connections = RequestConnections.of(request)
    if connections is not None:
        connections.add(connection)


# --- bounded statements ------------------------------------------------------------------------

_BUDGET_STATE = "statement_budget_ms"


@dataclass(frozen=True)
class StatementBudgets:
    """How long one statement of a request may run, in ms (0: unbounded): `admin` for admin
    keys, `default` for every other caller (PDI_DB_STATEMENT_TIMEOUT_MS and …_ADMIN_MS)."""

    default: int
    admin: int

    @classmethod
    def of(cls, request: Request) -> "StatementBudgets":
        budgets = getattr(request.app.state, "statement_budgets", None)
        if budgets is None:
            settings = get_settings()
            budgets = cls(default=settings.db_statement_timeout_ms, admin=settings.db_statement_timeout_admin_ms)
        return budgets


def statement_budget_ms(request: Request) -> int:
    """How long one statement of this request may run: admin's budget once the caller is known
    to be an admin (app/auth/dependencies.py), everyone else's until then."""
    budget = getattr(request.state, _BUDGET_STATE, None)
    return budget if budget is not None else StatementBudgets.of(request).default


def apply_statement_budget(connection, budget_ms: int) -> None:
    """Bound the statements of the connection's current transaction (0: unbounded). PostgreSQL:
    `SET LOCAL statement_timeout`, which ends with the transaction; SQLite: the deadline the
    progress handler of `_make_sqlite_behave` checks, cleared when the connection goes back.
    Nothing to do where the connection was opened with that budget already (`get_request_engine`):
    no statement changes statement_timeout beyond a transaction."""
    if connection.dialect.name == "postgresql":
        if connection.info.get(_CONNECTED_BUDGET_MS) != int(budget_ms):
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        # The client's own limit too, for a server too frozen to enforce statement_timeout.
        limit = budget_ms / 1000 + SILENCE_GRACE_SECONDS if budget_ms else None
        _set_wait_limit(connection.connection.dbapi_connection, limit)
    else:
        connection.info[_BUDGET_MS] = int(budget_ms)


def raise_statement_budget(request: Request, session: Session, budget_ms: int) -> None:
    """Give the rest of the request (this session's open transaction included) `budget_ms`."""
    setattr(request.state, _BUDGET_STATE, budget_ms)
    if session.in_transaction():
        apply_statement_budget(session.connection(), budget_ms)


class RequestConnections:
    """The database connections a request holds while it runs, so that a client that hangs up
    can have its statements cancelled (app/core/bulkhead.py): PostgreSQL's cancel request,
    SQLite's interrupt. A connection leaves its request when it goes back to the pool (the
    engine's `checkin`, before another request can take it), under the lock the cancel holds: a
    cancel never reaches a connection another request took since."""

    _SCOPE_KEY = "pdi.connections"
    _lock = threading.Lock()
    _owners: dict[int, "RequestConnections"] = {}

    def __init__(self) -> None:
        self._held: dict[int, object] = {}

    @classmethod
    def install(cls, scope) -> "RequestConnections":
        connections = cls()
        scope.setdefault("state", {})[cls._SCOPE_KEY] = connections
        return connections

    @classmethod
    def of(cls, request: Request) -> "RequestConnections | None":
        return request.scope.get("state", {}).get(cls._SCOPE_KEY)

    def add(self, connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        with self._lock:
            self._held[id(dbapi_connection)] = dbapi_connection
            self._owners[id(dbapi_connection)] = self

    @classmethod
    def released(cls, dbapi_connection) -> None:
        with cls._lock:
            owner = cls._owners.pop(id(dbapi_connection), None)
            if owner is not None:
                owner._held.pop(id(dbapi_connection), None)

    def cancel(self) -> int:
        """Cancel what the request's connections are running; how many were cancelled."""
        with self._lock:
            targets = list(self._held.values())
            for dbapi_connection in targets:
                try:
                    if hasattr(dbapi_connection, "cancel_safe"):  # psycopg 3
                        dbapi_connection.cancel_safe(timeout=2)
                    else:  # sqlite3
                        dbapi_connection.interrupt()
                except Exception:  # a connection closed meanwhile has nothing to cancel
                    pass
            return len(targets)


async def get_session(request: Request) -> AsyncIterator[Session]:
    async with request_session_async(get_request_engine(), request) as session:
        yield session


async def get_writer_session(request: Request) -> AsyncIterator[Session]:
    async with request_session_async(get_request_engine(), request, write=True) as session:
        yield session


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
    settings = get_settings()
    url = settings.read_database_url
    return make_engine(url, statement_timeout_ms=settings.db_statement_timeout_ms) if url else get_request_engine()


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    async with request_session_async(get_read_engine(), request) as session:
        yield session


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


def rows_table(
    session: Session, name: str, columns: Sequence[tuple[str, TypeEngine]], rows: Sequence[Sequence]
) -> FromClause:
    """A batch's rows (keys to look up, values to write) as a table `name` of `columns`, to join
    instead of an `IN (…)` of tuples or an executemany: the SQL and its parameters are the same
    whatever the batch's size.

    PostgreSQL: `unnest(:a, :b, …) AS name (a, b, …)`, one array parameter per column. A tuple
    IN of 1,000 keys of three parts is 3,000 bound parameters, which psycopg parses anew at every
    execution (it caches statements of 50 parameters or fewer) and PostgreSQL plans anew for
    each batch size (98 ms at 1,000); three arrays are one statement, planned once.
    SQLite has no arrays: the rows are one JSON parameter (a list of lists, each value as the
    column's type stores it) read by `json_each`, each column cast back to its type with
    `json_extract`. One parameter too, so no limit on bound parameters either.
    """
    if is_postgres(session):
        arrays = [
            bindparam(None, [row[position] for row in rows], type_=ARRAY(type_))
            for position, (_name, type_) in enumerate(columns)
        ]
        return (
            func.unnest(*arrays)
            .table_valued(*(column(column_name, type_) for column_name, type_ in columns))
            .render_derived(name=name)
        )
    dialect = session.get_bind().dialect
    processors = [type_.dialect_impl(dialect).bind_processor(dialect) for _name, type_ in columns]
    stored = [
        [
            value if value is None or processor is None else processor(value)
            for value, processor in zip(row, processors, strict=True)
        ]
        for row in rows
    ]
    each = func.json_each(bindparam(None, json.dumps(stored))).table_valued("value")
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$[{position}]"), type_).label(column_name)
            for position, (column_name, type_) in enumerate(columns)
        )
    ).subquery(name)


def ids_table(session: Session, ids: Iterable[int]) -> FromClause:
    """Row ids of a batch as a table of one column `id` (rows_table), to join instead of `IN (…)`."""
    return rows_table(session, "named", [("id", Integer())], [(int(value),) for value in sorted(set(ids))])


# A write of this many rows in one transaction is a bulk write: its tables are analysed then
# (analyze_after_bulk), not left to autovacuum's next turn (`pdi retention`, the expiry job).
ANALYZE_AFTER_ROWS = 10_000


def analyze_after_bulk(session: Session, tables: Iterable, rows: int) -> bool:
    """ANALYZE `tables` when `rows` (written by the transaction) reach ANALYZE_AFTER_ROWS, on
    PostgreSQL; whether it did."""
    if rows < ANALYZE_AFTER_ROWS or not is_postgres(session):
        return False
    analyze(session, tables)
    return True


def analyze(session: Session, tables: Iterable) -> None:
    """PostgreSQL: gather the planner's statistics of the tables (names or models) a bulk write
    just filled, in the writing transaction (ANALYZE counts its own uncommitted rows). Until
    autovacuum gets to them, which may take minutes, a freshly filled table is planned from
    its empty-table estimates: scans where an index was the way, nested loops over millions."""
    if not is_postgres(session):
        return
    names = sorted({getattr(table, "__tablename__", table) for table in tables})
    if names:
        quote = session.get_bind().dialect.identifier_preparer.quote
        session.execute(text(f"ANALYZE {', '.join(quote(name) for name in names)}"))
