import asyncio
import os
import threading
from concurrent.futures import Future
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.core.engines import get_engine
from app.core.errors import resources_exhausted_lately

router = APIRouter(tags=["operations"])

# /readyz says "not ready" this long after the database last ran out of resources (PostgreSQL's
# class 53: disk, memory, connections), which SELECT 1 alone would not show.
RESOURCE_FAULT_MEMORY_SECONDS = 30
# An SQLite database whose disk has less room than this cannot take writes for long.
MIN_FREE_DISK_BYTES = 1_000_000
# /readyz answers within this whatever the database does: a stopped server answers nothing.
READY_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    # On the event loop: no thread of the pool, which requests waiting on the database may hold.
    return {"status": "ok"}


NOT_READY = {
    "description": "The database is unreachable, or out of disk, memory or connections",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"status": {"type": "string", "enum": ["unavailable"]}, "detail": {"type": "string"}},
                "required": ["status"],
            }
        }
    },
}


@router.get("/readyz", responses={503: NOT_READY})
async def readyz(engine: Annotated[Engine, Depends(get_engine)]):
    """Readiness: the database answers and can take writes."""
    try:
        full = await asyncio.wait_for(asyncio.wrap_future(_check(engine)), READY_SECONDS)
    except TimeoutError:
        detail = f"the database did not answer within {READY_SECONDS:g} s"
        return JSONResponse({"status": "unavailable", "detail": detail}, status_code=503)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    if full is None and resources_exhausted_lately(RESOURCE_FAULT_MEMORY_SECONDS):
        full = "the database ran out of disk, memory or connections in the last 30 s"
    if full:
        return JSONResponse({"status": "unavailable", "detail": full}, status_code=503)
    return {"status": "ok"}


# The check under way per engine: a probe the database does not answer is not started again at
# every call (one thread waits on a stopped server, not one per probe).
_checks: dict[int, Future] = {}
_checks_lock = threading.Lock()


def _check(engine: Engine) -> Future:
    with _checks_lock:
        check = _checks.get(id(engine))
        if check is None or check.done():
            check = _checks[id(engine)] = Future()
            check.set_running_or_notify_cancel()  # a caller that stops waiting cannot cancel it
            threading.Thread(target=_run_check, args=(engine, check), name="readyz", daemon=True).start()
        return check


def _run_check(engine: Engine, check: Future) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            check.set_result(_sqlite_is_full(connection) if connection.dialect.name == "sqlite" else None)
    except BaseException as exc:
        check.set_exception(exc)


def _sqlite_is_full(connection: Connection) -> str:
    """Why SQLite cannot take writes now ("" when it can): no page left under its page limit, or
    too little room on the file's disk. Three pragmas and a statvfs: cheap enough for a probe."""
    pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    limit = connection.exec_driver_sql("PRAGMA max_page_count").scalar()
    free_pages = connection.exec_driver_sql("PRAGMA freelist_count").scalar()
    if pages >= limit and free_pages == 0:
        return "database or disk is full (no page left under the database's page limit)"
    path = connection.engine.url.database
    if path and path != ":memory:":
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
        if stats.f_bavail * stats.f_frsize < MIN_FREE_DISK_BYTES:
            return "database or disk is full (less than 1 MB free on its disk)"
    return ""
