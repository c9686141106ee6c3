from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import CallerDep
from app.changes import service
from app.changes.schemas import ChangesPage
from app.core import time as clock
from app.core.db import SessionDep
from app.core.errors import responses

router = APIRouter(prefix="/changes", tags=["changes"])

MAX_LIMIT = 1000


@router.get("", response_model=ChangesPage, responses=responses(401, 422))
def list_changes(
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="The `next` of the previous page; 0 from the start")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
):
    """What changed after a cursor, in commit order, each entity once at its latest change.

    Keep `next` and poll with it: no change committed is ever skipped, and replaying from 0
    gives the current state. Kinds follow the caller's rights (pathways need a key that reads them)."""
    page = service.list_changes(session=session, caller=caller, after=after, limit=limit, today=clock.today())
    # Serialised once, as built (ChangesPage documents it): validating a thousand items again
    # through their read models would cost more than reading them.
    return Response(page.json(), media_type="application/json")
