import os
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.core.db import get_engine
from app.core.errors import resources_exhausted_lately

router = APIRouter(tags=["operations"])

# /readyz says "not ready" this long after the database last ran out of resources (PostgreSQL's
# class 53: disk, memory, connections), which SELECT 1 alone would not show.
RESOURCE_FAULT_MEMORY_SECONDS = 30
# An SQLite database whose disk has less room than this cannot take writes for long.
MIN_FREE_DISK_BYTES = 1_000_000


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
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
def readyz(engine: Annotated[Engine, Depends(get_engine)]):
    """Readiness: the database answers and can take writes."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            full = _sqlite_is_full(connection) if connection.dialect.name == "sqlite" else None
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    if full is None and resources_exhausted_lately(RESOURCE_FAULT_MEMORY_SECONDS):
        full = "the database ran out of disk, memory or connections in the last 30 s"
    if full:
        return JSONResponse({"status": "unavailable", "detail": full}, status_code=503)
    return {"status": "ok"}


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
