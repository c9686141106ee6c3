from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import CallerDep
from app.availability.where import WhereDep
from app.core import time as clock
from app.core.config import Settings, get_settings
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import Conflict, responses
from app.core.pagination import Page, PageDep
from app.core.schemas import IsoDay
from app.exports import scdl, service, template
from app.exports.schemas import ScdlGrantsRead, ScdlLeftOut, ServicesPage, StructureExport

router = APIRouter(prefix="/exports", tags=["exports"])

SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.get("/data-inclusion/structures", response_model=Page[StructureExport], responses=responses(401, 422))
def list_structures(session: SessionDep, _caller: CallerDep, page: PageDep, settings: SettingsDep):
    """Every operator site as a data·inclusion structure (schema v1; public)."""
    return service.list_structures(session=session, source=settings.source, params=page)


@router.get("/data-inclusion/services", response_model=ServicesPage, responses=responses(401, 422))
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
        departement_code=settings.departement_code,
        on=on or clock.today(),
        params=page,
        where=where,
    )


@router.get(
    "/data-inclusion/template.xlsx",
    response_class=Response,
    responses={
        200: {
            "content": {template.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "data·inclusion's publication template, filled",
        },
        **responses(401),
    },
)
def data_inclusion_template(session: SessionDep, _caller: CallerDep, settings: SettingsDep):
    """The offer in data·inclusion's publication template (public): every structure, and the
    services of the conventions active today, as the file the data·inclusion valideur takes."""
    content = service.template_xlsx(
        session=session,
        source=settings.source,
        portal_url=settings.portal_url,
        departement_code=settings.departement_code,
        on=clock.today(),
    )
    return Response(
        content=content,
        media_type=template.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="data-inclusion-{settings.source}.xlsx"'},
    )


class ScdlFormat(StrEnum):
    csv = "csv"
    json = "json"


_SCDL_CONTENT = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The SCDL subventions file (CSV), or with format=json its rows and the years left out",
    }
}


@router.get("/scdl/subventions", response_model=ScdlGrantsRead, responses={**_SCDL_CONTENT, **responses(401, 409, 422)})
def scdl_subventions(
    session: ReadSessionDep,
    _caller: CallerDep,
    settings: SettingsDep,
    year: Annotated[int, Query(ge=1, le=9999, description="The calendar year of the convention years")],
    min_amount: Annotated[
        Decimal | None,
        Query(
            ge=0,
            max_digits=14,
            decimal_places=2,
            allow_inf_nan=False,
            description="Only the years whose budget is at least this (e.g. 23000)",
        ),
    ] = None,
    format_: Annotated[ScdlFormat, Query(alias="format")] = ScdlFormat.csv,
):
    """The département's grants of `year` in the SCDL subventions format 2.1.1 (public).

    One row per convention year with an agreed budget; a year that cannot make a valid row (no
    operator SIRET, no `signed_on`) is left out (listed with format=json). 409 while
    PDI_DEPARTEMENT_SIRET is not set.
    """
    if settings.departement_siret is None:
        raise Conflict("PDI_DEPARTEMENT_SIRET is not set: the grantor's SIRET (idAttribuant) is required")
    grantor = scdl.Grantor(name=f"Département {settings.departement_name}", siret=settings.departement_siret)
    result = scdl.grants(session=session, grantor=grantor, year=year, min_amount=min_amount)
    if format_ == ScdlFormat.json:
        return ScdlGrantsRead(
            rows=result.rows,
            left_out=[ScdlLeftOut.model_validate(item, from_attributes=True) for item in result.left_out],
        )
    filename = f"subventions-{settings.source}-{year}.csv"
    return Response(
        content=scdl.to_csv(result.rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
