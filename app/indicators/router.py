from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from app.auth.dependencies import KeyHolderDep
from app.catalogue.models import Territory
from app.core.caller import Caller, Role
from app.core.config import Settings, get_settings
from app.core.db import ReadSessionDep
from app.core.errors import responses
from app.core.schemas import IsoDay
from app.indicators import secrecy
from app.indicators.bilan.build import parse_years
from app.indicators.bilan.formats import CsvDialect
from app.indicators.bilan.pdf import PDF_MEDIA_TYPE
from app.indicators.bilan.render import CSV_MEDIA_TYPE, BilanFile, BilanFormat, render_bilan
from app.indicators.bilan.xlsx import XLSX_MEDIA_TYPE
from app.indicators.engine.framework import Scope
from app.indicators.schemas import BilanRead, IndicatorsRead
from app.indicators.service import (
    MAX_YEAR,
    MIN_YEAR,
    checked_group_by,
    checked_indicators,
    indicators_report,
    resolve_period,
    scope_for,
    split_list,
)

router = APIRouter(tags=["indicators"])


@router.get("/indicators", response_model=IndicatorsRead, responses=responses(401, 403, 404, 422))
def get_indicators(
    session: ReadSessionDep,
    caller: KeyHolderDep,
    year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="A calendar year (or from/to)")] = None,
    from_: Annotated[IsoDay | None, Query(alias="from", description="First day of the period")] = None,
    to: Annotated[IsoDay | None, Query(description="Last day of the period")] = None,
    as_of: Annotated[
        IsoDay | None,
        Query(description="Nothing after this day is known (default today, or the period's end when consolidated)"),
    ] = None,
    action: Annotated[list[str] | None, Query(description="Action code(s), comma-separated or repeated")] = None,
    family: Annotated[str | None, Query(max_length=64, description="Family code")] = None,
    operator: Annotated[int | None, Query(description="Operator id")] = None,
    convention: Annotated[int | None, Query(description="Convention id")] = None,
    territory: Annotated[Territory | None, Query(description="The beneficiaries' territory")] = None,
    group_by: Annotated[
        list[str] | None, Query(description="Any of action, family, operator, convention, territory, year")
    ] = None,
    indicators: Annotated[list[str] | None, Query(description="Indicator codes (default all)")] = None,
):
    """Indicators of a period and scope, computed on demand, optionally grouped (operator keys:
    their own conventions only)."""
    start, end = resolve_period(year=year, start=from_, end=to)
    scope = Scope(
        actions=tuple(split_list(action or [])),
        family=family,
        operator_id=operator,
        convention_id=convention,
        territory=territory.value if territory else None,
    )
    scope = scope_for(session=session, caller=caller, scope=scope)
    return indicators_report(
        session=session,
        caller=caller,
        start=start,
        end=end,
        as_of=as_of,
        scope=scope,
        group_by=checked_group_by(group_by or []),
        indicators=checked_indicators(indicators or []),
    )


def _binary(media_type: str) -> dict:
    return {media_type: {"schema": {"type": "string", "format": "binary"}}}


_BILAN_CONTENT = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            **_binary(XLSX_MEDIA_TYPE),
            **_binary(PDF_MEDIA_TYPE),
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
        "description": "The bilan, as JSON or in the requested format (files also at /bilan.xlsx, .pdf, .csv)",
    },
}
BilanYears = Annotated[str, Query(description="Comma-separated years, e.g. 2018,2019,2020", max_length=200)]
BilanAsOf = Annotated[
    IsoDay | None, Query(description="Default today, or the last year's end when all are consolidated")
]
BilanAction = Annotated[str | None, Query(max_length=64, description="One action's code")]
BilanDialect = Annotated[
    CsvDialect | None,
    Query(description="CSV only: `rfc4180` (default; `,` and `.`) or `excel-fr` (`;`, decimal commas, BOM)"),
]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def _bilan_secrecy(caller: Caller) -> dict:
    # An action's figures cover every operator's conventions: only admin keys see every cell,
    # and an operator those of the actions whose conventions are all its own.
    return {
        "min_size": secrecy.min_cell_size_for(caller, own_conventions_only=False),
        "own_operator_id": caller.operator_id if caller.role == Role.operator else None,
    }


def _bilan(
    *,
    session: Session,
    caller: Caller,
    settings: Settings,
    years: str,
    as_of: date | None,
    action: str | None,
    format_: BilanFormat,
    dialect: CsvDialect | None = None,
) -> BilanRead | Response:
    """The bilan in `format_`, with the cells the caller may see: what every bilan route answers."""
    result = render_bilan(
        session=session,
        years=parse_years(years),
        as_of=as_of,
        action=action,
        format_=format_,
        dialect=dialect,
        departement=settings.departement_name,
        **_bilan_secrecy(caller),
    )
    if isinstance(result, BilanFile):
        return Response(content=result.content, media_type=result.media_type, headers=result.response_headers())
    return result


@router.get("/bilan", response_model=BilanRead, responses={**_BILAN_CONTENT, **responses(401, 403, 404, 422)})
def get_bilan(
    session: ReadSessionDep,
    caller: KeyHolderDep,
    settings: SettingsDep,
    years: BilanYears,
    as_of: BilanAsOf = None,
    action: BilanAction = None,
    format_: Annotated[BilanFormat, Query(alias="format")] = BilanFormat.json,
    dialect: BilanDialect = None,
):
    """The yearly bilan: per family and action, its operators and its table of indicators by year."""
    return _bilan(
        session=session,
        caller=caller,
        settings=settings,
        years=years,
        as_of=as_of,
        action=action,
        format_=format_,
        dialect=dialect,
    )


# The same files at paths of their own, each answering one media type as a binary string, so that
# a generated client has a function giving each as bytes (GET /bilan's function parses JSON).
def _file_route(path: str, media_type: str, what: str):
    return router.get(
        path,
        response_class=Response,
        responses={
            200: {"content": _binary(media_type), "description": f"The bilan as {what}"},
            **responses(401, 403, 404, 422),
        },
    )


@_file_route("/bilan.xlsx", XLSX_MEDIA_TYPE, "an XLSX workbook")
def get_bilan_xlsx(
    session: ReadSessionDep,
    caller: KeyHolderDep,
    settings: SettingsDep,
    years: BilanYears,
    as_of: BilanAsOf = None,
    action: BilanAction = None,
):
    """The bilan as an XLSX workbook (as `GET /bilan?format=xlsx`)."""
    return _bilan(
        session=session,
        caller=caller,
        settings=settings,
        years=years,
        as_of=as_of,
        action=action,
        format_=BilanFormat.xlsx,
    )


@_file_route("/bilan.pdf", PDF_MEDIA_TYPE, "an A4 PDF")
def get_bilan_pdf(
    session: ReadSessionDep,
    caller: KeyHolderDep,
    settings: SettingsDep,
    years: BilanYears,
    as_of: BilanAsOf = None,
    action: BilanAction = None,
):
    """The bilan as an A4 PDF (as `GET /bilan?format=pdf`)."""
    return _bilan(
        session=session,
        caller=caller,
        settings=settings,
        years=years,
        as_of=as_of,
        action=action,
        format_=BilanFormat.pdf,
    )


@_file_route("/bilan.csv", CSV_MEDIA_TYPE, "CSV")
def get_bilan_csv(
    session: ReadSessionDep,
    caller: KeyHolderDep,
    settings: SettingsDep,
    years: BilanYears,
    as_of: BilanAsOf = None,
    action: BilanAction = None,
    dialect: BilanDialect = None,
):
    """The bilan as CSV (as `GET /bilan?format=csv`)."""
    return _bilan(
        session=session,
        caller=caller,
        settings=settings,
        years=years,
        as_of=as_of,
        action=action,
        format_=BilanFormat.csv,
        dialect=dialect,
    )
