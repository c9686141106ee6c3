from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.core.db import get_engine

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


NOT_READY = {
    "description": "The database is unreachable",
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
    """Readiness: the database answers."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    return {"status": "ok"}
