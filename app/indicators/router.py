from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import KeyHolderDep
from app.catalogue.models import Territory
from app.core.db import ReadSessionDep
from app.core.errors import InvalidInput, responses
from app.core.schemas import IsoDay
from app.indicators import bilan_formats, bilan_html, bilan_xlsx
from app.indicators.bilan import build_bilan, parse_years
from app.indicators.bilan_charts import summary_charts
from app.indicators.bilan_formats import CsvDialect
from app.indicators.engine import Scope
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
        start=start,
        end=end,
        as_of=as_of,
        scope=scope,
        group_by=checked_group_by(group_by or []),
        indicators=checked_indicators(indicators or []),
    )


class BilanFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    md = "md"
    html = "html"


_BILAN_CONTENT = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            bilan_xlsx.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
        "description": "The bilan, as JSON or in the requested format",
    },
}


@router.get("/bilan", response_model=BilanRead, responses={**_BILAN_CONTENT, **responses(401, 403, 404, 422)})
def get_bilan(
    session: ReadSessionDep,
    _caller: KeyHolderDep,
    years: Annotated[str, Query(description="Comma-separated years, e.g. 2018,2019,2020", max_length=200)],
    as_of: Annotated[
        IsoDay | None, Query(description="Default today, or the last year's end when all are consolidated")
    ] = None,
    action: Annotated[str | None, Query(max_length=64, description="One action's code")] = None,
    format_: Annotated[BilanFormat, Query(alias="format")] = BilanFormat.json,
    dialect: Annotated[
        CsvDialect | None,
        Query(description="CSV only: `rfc4180` (default; `,` and `.`) or `excel-fr` (`;`, decimal commas, BOM)"),
    ] = None,
):
    """The yearly bilan: per family and action, its operators and its table of indicators by year."""
    if dialect is not None and format_ != BilanFormat.csv:
        raise InvalidInput("`dialect` applies to format=csv only", loc=["query", "dialect"])
    bilan = build_bilan(session=session, years=parse_years(years), as_of=as_of, action=action)
    if format_ == BilanFormat.json:
        return bilan
    disposition = "attachment"
    headers: dict[str, str] = {}
    if format_ == BilanFormat.csv:
        content = bilan_formats.to_csv(bilan, dialect or CsvDialect.rfc4180)
        media_type, extension = "text/csv; charset=utf-8", "csv"
    elif format_ == BilanFormat.xlsx:
        charts = summary_charts(session=session, bilan=bilan, action=action)
        content, media_type, extension = bilan_xlsx.to_xlsx(bilan, charts), bilan_xlsx.XLSX_MEDIA_TYPE, "xlsx"
    elif format_ == BilanFormat.html:
        charts = summary_charts(session=session, bilan=bilan, action=action)
        content, media_type, extension = bilan_html.to_html(bilan, charts), "text/html; charset=utf-8", "html"
        disposition = "inline"  # a page to read in the browser, which may still save it
        headers["Content-Security-Policy"] = bilan_html.CONTENT_SECURITY_POLICY
    else:
        content, media_type, extension = bilan_formats.to_markdown(bilan), "text/markdown; charset=utf-8", "md"
    headers["Content-Disposition"] = f'{disposition}; filename="{bilan_formats.filename(bilan, extension)}"'
    return Response(content=content, media_type=media_type, headers=headers)
