from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.auth.dependencies import CallerDep
from app.availability import service
from app.availability.cache import CACHE_CONTROL, etag_for, matches, question_of
from app.availability.schemas import AvailabilityPage
from app.availability.where import WhereDep
from app.catalogue.models import Territory
from app.core import time as clock
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.pagination import PageDep
from app.core.schemas import IsoDay
from app.outbox.service import last_cursor

router = APIRouter(prefix="/availability", tags=["availability"])


@router.get(
    "",
    response_model=AvailabilityPage,
    responses={304: {"description": "Not modified: the `If-None-Match` ETag is still current"}, **responses(401, 422)},
)
def list_availability(
    session: SessionDep,
    _caller: CallerDep,
    page: PageDep,
    request: Request,
    where: WhereDep,
    on: Annotated[IsoDay | None, Query(description="Day of the figures (default: today in Paris)")] = None,
    action: Annotated[str | None, Query(max_length=64, description="Action code")] = None,
    family: Annotated[str | None, Query(max_length=64, description="Family code")] = None,
    commune: Annotated[
        str | None, Query(min_length=1, max_length=100, description="A site's commune, any case")
    ] = None,
    territory: Annotated[Territory | None, Query(description="A site's territory")] = None,
    if_none_match: Annotated[str | None, Header()] = None,
):
    """Free places per active convention on a day, where and until when (public; ETag, 304).

    `insee_code`, `departement` and `near` (+ `radius_km`) keep the conventions with a site
    there; with `near` the list is sorted by distance to the nearest such site (`distance_km`).
    """
    day = on or clock.today()
    # The tag names the question (filters, page, day) and the state of the data (the change
    # feed's last cursor, which moves with every committed write): a revalidation costs one
    # row read, not the page; and the page built is kept under it (app/availability/cache.py).
    etag = etag_for(request.query_params.multi_items(), day.isoformat(), last_cursor(session))
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    result = service.list_availability(
        session=session,
        on=day,
        params=page,
        action=action,
        family=family,
        commune=commune,
        territory=territory,
        where=where,
    )
    body = result.model_dump_json().encode()
    question = question_of(request.query_params.multi_items(), day.isoformat())
    request.app.state.availability_pages.put(etag, body, route=request.scope.get("route"), question=question)
    return Response(content=body, media_type="application/json", headers=headers)
