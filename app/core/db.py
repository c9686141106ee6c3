"""Sessions: the project's session class, and the one session per request that the routes depend
on (`SessionDep`, `WriterSessionDep`, `ReadSessionDep`), committed when the route returns."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.budgets import RequestConnections, apply_statement_budget, cap_parallel_workers, statement_budget_ms
from app.core.bulkhead import parallel_workers_of
from app.core.changes import refuse_writes_until_feed_captured
from app.core.engines import get_read_engine, get_request_engine, writer_engine


class PdiSession(Session):
    """The project's session: every session of the service, the CLI, the seed and the tests is one.

    The change feed's capture (app/outbox/capture.py) listens to this class, not to every
    SQLAlchemy session of the process: what it does is the project's business, bound to the
    project's sessions. It notes the rows each flush writes and turns the notes into feed rows at
    commit; a bulk statement on a table the feed serves is refused unless its writer noted what
    it changed (app.core.changes.note_change, then `execution_options(feed_noted=True)`).
    """


refuse_writes_until_feed_captured(PdiSession)


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
    """Where every request's session is made: on the writer engine for a request that may write."""
    if write or request.method not in READ_METHODS:
        engine = writer_engine(engine)
    with PdiSession(engine, expire_on_commit=False, info={_REQUEST: request}) as session:
        yield session


# The request a session serves (its `info`), for the listener below: one listener on the class,
# not one registered on each session (which cost a tenth of a small read's time).
_REQUEST = "pdi.request"


@event.listens_for(PdiSession, "after_begin")
def _bound_and_tracked(session: Session, _transaction, connection) -> None:
    """Each transaction of a request's session: bounded by the caller's budget (and a heavy
    read's by its parallel workers), its connection cancellable while the request runs."""
    request = session.info.get(_REQUEST)
    if request is None:
        return
    apply_statement_budget(connection, statement_budget_ms(request))
    parallel_workers = parallel_workers_of(request.scope)
    if parallel_workers is not None:
        cap_parallel_workers(connection, parallel_workers)
    connections = RequestConnections.of(request)
    if connections is not None:
        connections.add(connection)


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


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    async with request_session_async(get_read_engine(), request) as session:
        yield session


# For read-only routes whose reads may go to a replica; never for a route that writes.
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
