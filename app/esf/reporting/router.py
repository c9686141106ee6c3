"""The FSE's reporting (SPEC C9): the ESF+ report, the incomplete participant records, and the
six-month follow-ups."""

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.dependencies import require_role
from app.auth.models import Role
from app.core.caller import Caller
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import InvalidInput, responses
from app.core.pagination import Page, PageDep
from app.core.schemas import IsoDay
from app.core.time import today
from app.esf.reporting import follow_ups, formats
from app.esf.reporting.report import esf_report
from app.esf.reporting.schemas import FOLLOW_UP_COLUMNS, EsfReport, FollowUpDue, FollowUpIn, FollowUpsAnswer
from app.esf.reporting.service import incomplete_pathways
from app.indicators.bilan.formats import CsvDialect
from app.indicators.service import MAX_YEAR, MIN_YEAR
from app.pathways import batches
from app.pathways.access import PathwayWriterDep
from app.pathways.batches import Batch

router = APIRouter(tags=["esf"])

ReportReaderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.reader, Role.operator))]
Year = Annotated[int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="A calendar year")]


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


_REPORT_CONTENT = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            formats.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The report, as JSON or in the requested format",
    }
}


@router.get("/reports/esf", response_model=EsfReport, responses={**_REPORT_CONTENT, **responses(401, 403, 422)})
def get_esf_report(
    session: ReadSessionDep,
    caller: ReportReaderDep,
    year: Year,
    convention: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Convention id")] = None,
    action: Annotated[str | None, Query(max_length=64, description="Action code")] = None,
    format_: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.json,
    dialect: Annotated[
        CsvDialect | None,
        Query(description="CSV only: `rfc4180` (default; `,`) or `excel-fr` (`;`, BOM)"),
    ] = None,
):
    """The ESF+ common indicators for participants of a year, per co-funded convention and in total, by sex."""
    if dialect is not None and format_ != ReportFormat.csv:
        raise InvalidInput("`dialect` applies to format=csv only", loc=["query", "dialect"])
    report = esf_report(session=session, caller=caller, year=year, convention_id=convention, action=action)
    if format_ == ReportFormat.json:
        return report
    return _report_file(report, format_, dialect, year)


def _report_file(report: EsfReport, format_: ReportFormat, dialect: CsvDialect | None, year: int) -> Response:
    if format_ == ReportFormat.csv:
        content, media_type, extension = (
            formats.to_csv(report, dialect or CsvDialect.rfc4180),
            "text/csv; charset=utf-8",
            "csv",
        )
    else:
        content, media_type, extension = formats.to_xlsx(report), formats.XLSX_MEDIA_TYPE, "xlsx"
    headers = {"Content-Disposition": f'attachment; filename="fse-{year}.{extension}"'}
    return Response(content=content, media_type=media_type, headers=headers)


# The same files at paths of their own, each answering one media type as a binary string, so that
# a generated client has a function giving each as bytes (GET /reports/esf's parses JSON).
def _file_responses(media_type: str, what: str) -> dict:
    binary = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {200: {"content": binary, "description": f"The report as {what}"}, **responses(401, 403, 422)}


ConventionFilter = Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Convention id")]
ActionFilter = Annotated[str | None, Query(max_length=64, description="Action code")]


@router.get("/reports/esf.xlsx", response_class=Response, responses=_file_responses(formats.XLSX_MEDIA_TYPE, "XLSX"))
def get_esf_report_xlsx(
    session: ReadSessionDep,
    caller: ReportReaderDep,
    year: Year,
    convention: ConventionFilter = None,
    action: ActionFilter = None,
):
    """The ESF+ report as an XLSX workbook (as `GET /reports/esf?format=xlsx`)."""
    report = esf_report(session=session, caller=caller, year=year, convention_id=convention, action=action)
    return _report_file(report, ReportFormat.xlsx, None, year)


@router.get("/reports/esf.csv", response_class=Response, responses=_file_responses("text/csv", "CSV"))
def get_esf_report_csv(
    session: ReadSessionDep,
    caller: ReportReaderDep,
    year: Year,
    convention: ConventionFilter = None,
    action: ActionFilter = None,
    dialect: Annotated[
        CsvDialect | None,
        Query(description="`rfc4180` (default; `,`) or `excel-fr` (`;`, BOM)"),
    ] = None,
):
    """The ESF+ report as CSV (as `GET /reports/esf?format=csv`)."""
    report = esf_report(session=session, caller=caller, year=year, convention_id=convention, action=action)
    return _report_file(report, ReportFormat.csv, dialect, year)


@router.get("/esf/incomplete", response_model=Page[int], responses=responses(401, 403, 422))
def list_incomplete_participants(session: SessionDep, caller: PathwayWriterDep, year: Year, page: PageDep):
    """Ids of the caller's pathways entered in a co-funded convention year without a complete participant."""
    return incomplete_pathways(session=session, caller=caller, year=year, params=page)


_FOLLOW_UP_HEADER = ",".join(FOLLOW_UP_COLUMNS)


@router.post(
    "/follow-ups",
    response_model=FollowUpsAnswer,
    responses=responses(400, 401, 403, 413, 415, 422),
    openapi_extra=batches.batch_request_body(
        FollowUpIn, example=f"{_FOLLOW_UP_HEADER}\n42,2021-01-15,employed_cdi,true\n"
    ),
)
def post_follow_ups(
    session: SessionDep,
    caller: PathwayWriterDep,
    batch: Annotated[Batch, Depends(batches.read_batch)],
    atomic: Annotated[bool, Query(description="All or nothing: any bad item stores nothing (422)")] = False,
):
    """Record a batch of six-month follow-ups (150 to 240 days after each exit)."""
    parsed = batches.parse_items(batch, FollowUpIn)
    return follow_ups.record_follow_ups(
        session=session, caller=caller, items=parsed.items, atomic=atomic, lines=parsed.lines
    )


@router.get("/follow-ups/due", response_model=Page[FollowUpDue], responses=responses(401, 403, 422))
def list_due_follow_ups(
    session: SessionDep,
    caller: PathwayWriterDep,
    page: PageDep,
    on: Annotated[IsoDay | None, Query(description="The day (default today)")] = None,
):
    """The caller's exited pathways whose follow-up window contains `on` and that have no follow-up yet."""
    return follow_ups.due_follow_ups(session=session, caller=caller, on=on or today(), params=page)
