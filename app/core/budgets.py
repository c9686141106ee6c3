"""Bounded statements: how long one statement of a request may run (its caller's budget), how each
database holds it (PostgreSQL's statement_timeout, and the client's own limit for a server too
frozen to enforce it; on SQLite a deadline that the engine's progress handler checks), and the
cancelling of a request's statements when its client hangs up."""

import threading
import time
from dataclasses import dataclass

import psycopg
import psycopg.errors
from fastapi import Request
from sqlmodel import Session

from app.core.config import get_settings

# psycopg's own interval between checks for a signal while it waits (its default).
_PSYCOPG_WAIT_INTERVAL = 0.1
# A statement's wait on the server beyond its budget before the client gives up on a server that
# does not answer: time for the server's own statement_timeout to come back first when it runs.
SILENCE_GRACE_SECONDS = 1.0

# Where a connection keeps its statement budget (`apply_statement_budget`) and, on SQLite, the
# deadline of the statement it runs (the engine's listeners, app/core/engines.py).
BUDGET_KEY = "pdi_statement_budget_ms"
DEADLINE_KEY = "pdi_statement_deadline"
# The statement_timeout a PostgreSQL connection got when it connected (the requests' engine).
CONNECTED_BUDGET_KEY = "pdi_connected_statement_budget_ms"


def deadline_passed(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


class DatabaseSilent(psycopg.OperationalError):
    """The server did not answer within the connection's limit (it is frozen, or the network
    under it is gone): the connection is closed, so that nothing waits on it again."""


class BoundedConnection(psycopg.Connection):
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


def set_wait_limit(dbapi_connection, seconds: float | None) -> None:
    if isinstance(dbapi_connection, BoundedConnection):
        dbapi_connection.wait_limit = seconds


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
    progress handler of app/core/engines.py checks, cleared when the connection goes back.
    Nothing to do where the connection was opened with that budget already (`get_request_engine`):
    no statement changes statement_timeout beyond a transaction."""
    if connection.dialect.name == "postgresql":
        if connection.info.get(CONNECTED_BUDGET_KEY) != int(budget_ms):
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(budget_ms)}")
        # The client's own limit too, for a server too frozen to enforce statement_timeout.
        limit = budget_ms / 1000 + SILENCE_GRACE_SECONDS if budget_ms else None
        set_wait_limit(connection.connection.dbapi_connection, limit)
    else:
        connection.info[BUDGET_KEY] = int(budget_ms)


def cap_parallel_workers(connection, workers: int) -> None:
    """PostgreSQL: at most `workers` parallel workers per step of the plans of the connection's
    current transaction (`SET LOCAL`, which ends with it); SQLite has none."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL max_parallel_workers_per_gather = {int(workers)}")


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
