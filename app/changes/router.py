from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.auth.dependencies import CallerDep
from app.changes import service
from app.changes.schemas import ChangesPage
from app.core import time as clock
from app.core.db import SessionDep
from app.core.errors import responses

router = APIRouter(prefix="/changes", tags=["changes"])

MAX_LIMIT = 1000
MAX_AFTER = 2**62


@router.get("", response_model=ChangesPage, responses=responses(401, 422))
async def list_changes(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_AFTER, description="The `next` of the previous page; 0 from the start")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
):
    """What changed after a cursor, in commit order, each entity once at its latest change.

    Keep `next` and poll with it: no change committed is ever skipped, and replaying from 0
    gives the current state. Kinds follow the caller's rights (pathways need a key that reads them)."""
    if _nothing_after(request, after):
        return Response(service.FeedPage(items=[], next=after).json(), media_type="application/json")
    page = await run_in_threadpool(
        service.list_changes, session=session, caller=caller, after=after, limit=limit, today=clock.today()
    )
    # Serialised once, as built (ChangesPage documents it): validating a thousand items again
    # through their read models would cost more than reading them.
    return Response(page.json(), media_type="application/json")


def _nothing_after(request: Request, after: int) -> bool:
    """Whether the feed's watch (app/availability/cache.py) knows that nothing was committed
    after `after`: most polls of a caught-up client, answered without a query or a thread hop
    (and most of those before routing, app/changes/caught_up.py).
    Its cursor may lag a commit by the moment its notice takes; the poller, which keeps `after`,
    then gets that change on its next poll: nothing is skipped, only seen a poll later."""
    watch = getattr(request.app.state, "feed_watch", None)
    known = watch.current if watch is not None else None
    return known is not None and after >= known
