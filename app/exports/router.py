from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.auth.dependencies import CallerDep
from app.availability.where import WhereDep
from app.core import time as clock
from app.core.config import Settings, get_settings
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.pagination import Page, PageDep
from app.core.schemas import IsoDay
from app.exports import service
from app.exports.schemas import ServicesPage, StructureExport

router = APIRouter(prefix="/exports/data-inclusion", tags=["exports"])

SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.get("/structures", response_model=Page[StructureExport], responses=responses(401, 422))
def list_structures(session: SessionDep, _caller: CallerDep, page: PageDep, settings: SettingsDep):
    """Every operator site as a data·inclusion structure (schema v1; public)."""
    return service.list_structures(session=session, source=settings.source, params=page)


@router.get("/services", response_model=ServicesPage, responses=responses(401, 422))
def list_services(
    session: SessionDep,
    _caller: CallerDep,
    page: PageDep,
    where: WhereDep,
    settings: SettingsDep,
    on: Annotated[IsoDay | None, Query(description="Day of the active conventions (default: today in Paris)")] = None,
):
    """Each active convention at each of its sites as a data·inclusion service, with its seats (public).

    `insee_code`, `departement` and `near` (+ `radius_km`) filter the sites as in GET /availability;
    with `near` the list is sorted by distance (`distance_km`).
    """
    return service.list_services(
        session=session,
        source=settings.source,
        portal_url=settings.portal_url,
        on=on or clock.today(),
        params=page,
        where=where,
    )
