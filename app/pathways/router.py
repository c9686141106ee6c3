from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from app.auth.dependencies import require_role
from app.catalogue.models import Territory
from app.core.bodies import RawBody, json_request_body
from app.core.caller import Caller, Role
from app.core.db import SessionDep, WriterSessionDep
from app.core.errors import responses
from app.core.etag import etag_of, with_etag
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_INT, IsoDay, IsoMoment
from app.core.time import today
from app.esf.records import participants
from app.pathways import activity, answers, batches, diagnostics, engagement, exit_records, reads, service
from app.pathways.access import (
    ActivityReaderDep,
    ActivityWriterDep,
    PathwayReaderDep,
    PathwayWriterDep,
    PrescriberDep,
)
from app.pathways.batches import Batch
from app.pathways.models import ActivityMetric, Pathway, PathwayStatus
from app.pathways.schemas import (
    EXIT_RECORD_COLUMNS,
    AcceptIn,
    ActivityRecordCreate,
    ActivityRecordRead,
    CancelIn,
    DiagnosticIn,
    DiagnosticRead,
    EngagementIn,
    EngagementRead,
    EntryIn,
    ExitIn,
    ExitRecordIn,
    ExitRecordsAnswer,
    MeterPerson,
    PathwayCreate,
    PathwayRead,
    PathwayUpdate,
    RefuseIn,
    WithdrawIn,
)

router = APIRouter()


def _answer(session, caller, response: Response, pathway: Pathway) -> PathwayRead:
    """A pathway as its caller may read it; the ETag is that of the caller's view without the FSE
    participant record (whose writes move `updated_at`), as If-Match compares it."""
    read = reads.read_model(session=session, pathway=pathway, caller=caller)
    response.headers["ETag"] = etag_of(read)
    return participants.with_participants(session=session, caller=caller, reads=[read])[0]


PathwayId = Annotated[int, Path(ge=1, le=MAX_INT)]
ConventionId = Annotated[int, Path(ge=1, le=MAX_INT)]
IfMatch = Annotated[str | None, Header(description="The ETag last read: 412 if the pathway changed since")]


@router.get("/pathways", response_model=Page[PathwayRead], tags=["pathways"], responses=responses(401, 403, 422))
def list_pathways(
    session: WriterSessionDep,
    caller: PathwayReaderDep,
    page: PageDep,
    convention: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Convention id")] = None,
    action: Annotated[str | None, Query(max_length=64, description="Action code")] = None,
    operator: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Operator id")] = None,
    status: PathwayStatus | None = None,
    active_on: Annotated[IsoDay | None, Query(description="Stays covering that day")] = None,
    updated_since: Annotated[IsoMoment | None, Query(description="Changed at or after that moment")] = None,
):
    """Pathways the caller may read, oldest first."""
    page_ = reads.list_pathways(
        session=session,
        caller=caller,
        params=page,
        convention_id=convention,
        action=action,
        operator_id=operator,
        status=status,
        active_on=active_on,
        updated_since=updated_since,
    )
    return page_.model_copy(
        update={"items": participants.with_participants(session=session, caller=caller, reads=page_.items)}
    )


@router.post(
    "/pathways",
    response_model=PathwayRead,
    status_code=201,
    tags=["pathways"],
    responses=responses(401, 403, 404, 409, 422),
)
def create_pathway(session: SessionDep, caller: PrescriberDep, body: PathwayCreate, response: Response):
    """Prescribe a pathway (or import a whole one: entry and exit given at once)."""
    pathway = service.create_pathway(session=session, caller=caller, body=body)
    return _answer(session, caller, response, pathway)


@router.get("/pathways/{pathway_id}", response_model=PathwayRead, tags=["pathways"], responses=responses(401, 403, 404))
def get_pathway(session: WriterSessionDep, caller: PathwayReaderDep, pathway_id: PathwayId, response: Response):
    """One pathway."""
    pathway = reads.get_pathway(session=session, caller=caller, pathway_id=pathway_id)
    return _answer(session, caller, response, pathway)


@router.patch(
    "/pathways/{pathway_id}",
    response_model=PathwayRead,
    tags=["pathways"],
    responses=responses(401, 403, 404, 409, 412, 422),
)
def update_pathway(
    session: SessionDep,
    caller: PathwayWriterDep,
    pathway_id: PathwayId,
    body: PathwayUpdate,
    response: Response,
    if_match: IfMatch = None,
):
    """Correct a pathway; every rule is checked again."""
    pathway = service.update_pathway(
        session=session, caller=caller, pathway_id=pathway_id, body=body, if_match=if_match
    )
    return _answer(session, caller, response, pathway)


LIFECYCLE_ERRORS = responses(401, 403, 404, 409, 422)


@router.post("/pathways/{pathway_id}/entry", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS)
def enter_pathway(
    session: SessionDep, caller: PathwayWriterDep, pathway_id: PathwayId, body: EntryIn, response: Response
):
    """Record the person's entry (the same entry again changes nothing)."""
    pathway = service.enter(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.post("/pathways/{pathway_id}/exit", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS)
def exit_pathway(
    session: SessionDep, caller: PathwayWriterDep, pathway_id: PathwayId, body: ExitIn, response: Response
):
    """Record the person's exit (the same exit again changes nothing; another one is a 409)."""
    pathway = service.exit_pathway(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.post("/pathways/{pathway_id}/cancel", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS)
def cancel_pathway(
    session: SessionDep, caller: PathwayWriterDep, pathway_id: PathwayId, body: CancelIn, response: Response
):
    """Cancel a prescription that did not lead to an entry."""
    pathway = service.cancel(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.post("/pathways/{pathway_id}/accept", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS)
def accept_pathway(
    session: SessionDep, caller: PathwayWriterDep, pathway_id: PathwayId, body: AcceptIn, response: Response
):
    """The convention's operator accepts a prescription (the same answer again changes nothing)."""
    pathway = answers.accept(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.post("/pathways/{pathway_id}/refuse", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS)
def refuse_pathway(
    session: SessionDep, caller: PathwayWriterDep, pathway_id: PathwayId, body: RefuseIn, response: Response
):
    """The convention's operator refuses a prescription, with a reason: its seat is freed."""
    pathway = answers.refuse(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.post(
    "/pathways/{pathway_id}/withdraw", response_model=PathwayRead, tags=["pathways"], responses=LIFECYCLE_ERRORS
)
def withdraw_pathway(
    session: SessionDep, caller: PathwayReaderDep, pathway_id: PathwayId, body: WithdrawIn, response: Response
):
    """The prescriber withdraws its prescription before any entry: its seat is freed."""
    pathway = answers.withdraw(session=session, caller=caller, pathway_id=pathway_id, body=body)
    return _answer(session, caller, response, pathway)


@router.get(
    "/pathways/{pathway_id}/diagnostic",
    response_model=DiagnosticRead,
    tags=["pathways"],
    responses=responses(401, 403, 404),
)
def get_diagnostic(session: WriterSessionDep, caller: PathwayReaderDep, pathway_id: PathwayId, response: Response):
    """The pathway's diagnostic: its admin, its operator and the portal key that prescribed it read it."""
    diagnostic = diagnostics.get_diagnostic(session=session, caller=caller, pathway_id=pathway_id)
    return with_etag(response, DiagnosticRead.model_validate(diagnostic))


@router.put(
    "/pathways/{pathway_id}/diagnostic",
    response_model=DiagnosticRead,
    tags=["pathways"],
    responses={201: {"description": "Created", "model": DiagnosticRead}, **responses(401, 403, 404, 409, 412, 422)},
    openapi_extra=json_request_body(DiagnosticIn),
)
def put_diagnostic(
    session: SessionDep,
    caller: PathwayWriterDep,
    pathway_id: PathwayId,
    body: RawBody,
    response: Response,
    if_match: Annotated[str | None, Header(description="The ETag last read: 412 if it changed since")] = None,
):
    """Write the pathway's diagnostic (assets and barriers over fifteen dimensions, recommended actions)."""
    # The body is read raw and validated once the caller's right to the pathway is checked.
    diagnostic, created = diagnostics.put_diagnostic(
        session=session, caller=caller, pathway_id=pathway_id, raw=body, if_match=if_match
    )
    if created:
        response.status_code = 201
    return with_etag(response, DiagnosticRead.model_validate(diagnostic))


_CSV_HEADER = ",".join(EXIT_RECORD_COLUMNS)


@router.post(
    "/exit-records",
    response_model=ExitRecordsAnswer,
    tags=["pathways"],
    responses=responses(400, 401, 403, 413, 415, 422),
    openapi_extra=batches.batch_request_body(
        ExitRecordIn,
        example=(f"{_CSV_HEADER}\n42,,,,2020-06-30,employment_cdi,\n,7,123456A,2020-01-06,2020-07-03,training,212\n"),
    ),
)
def post_exit_records(
    session: SessionDep,
    caller: PathwayWriterDep,
    batch: Annotated[Batch, Depends(batches.read_batch)],
    atomic: Annotated[bool, Query(description="All or nothing: any bad item stores nothing (422)")] = False,
):
    """Record a batch of exits, each by pathway_id or by (convention_id, beneficiary_ref, entered_on)."""
    parsed = batches.parse_items(batch, ExitRecordIn)
    return exit_records.record_exits(
        session=session, caller=caller, items=parsed.items, atomic=atomic, lines=parsed.lines
    )


@router.get(
    "/conventions/{convention_id}/activity",
    response_model=Page[ActivityRecordRead],
    tags=["activity"],
    responses=responses(401, 403, 404, 422),
)
def list_activity(
    session: SessionDep,
    caller: ActivityReaderDep,
    convention_id: ConventionId,
    page: PageDep,
    metric: ActivityMetric | None = None,
    from_: Annotated[IsoDay | None, Query(alias="from", description="First day (inclusive)")] = None,
    to: Annotated[IsoDay | None, Query(description="Last day (inclusive)")] = None,
):
    """Activity counters reported on a convention, by date."""
    return activity.list_activity(
        session=session, caller=caller, convention_id=convention_id, params=page, metric=metric, from_=from_, to=to
    )


@router.post(
    "/conventions/{convention_id}/activity",
    response_model=ActivityRecordRead,
    status_code=201,
    tags=["activity"],
    responses=responses(401, 403, 404, 409, 422),
)
def record_activity(
    session: SessionDep, caller: ActivityWriterDep, convention_id: ConventionId, body: ActivityRecordCreate
):
    """Report an activity counter (e.g. vehicle rental days) on a convention."""
    row = activity.record_activity(session=session, caller=caller, convention_id=convention_id, body=body)
    return ActivityRecordRead.model_validate(row)


# --- the contrat d'engagement's weekly hours (SPEC C11) -----------------------------------------

BeneficiaryId = Annotated[int, Path(ge=1, le=MAX_INT)]
MeterReaderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.portal))]


@router.get(
    "/beneficiaries/{beneficiary_id}/engagement",
    response_model=EngagementRead,
    tags=["weekly hours"],
    responses=responses(401, 403, 404),
)
def get_engagement(session: WriterSessionDep, caller: PathwayReaderDep, beneficiary_id: BeneficiaryId):
    """The person's lowered weekly hours target (404 when none: PDI_WEEKLY_HOURS_TARGET applies).
    Admin, or a portal or operator having a pathway of the person; the read is audited."""
    return engagement.get_engagement(session=session, caller=caller, beneficiary_id=beneficiary_id)


@router.put(
    "/beneficiaries/{beneficiary_id}/engagement",
    response_model=EngagementRead,
    tags=["weekly hours"],
    responses={201: {"description": "Created", "model": EngagementRead}, **responses(401, 403, 404, 422)},
)
def put_engagement(
    session: SessionDep, caller: PathwayReaderDep, beneficiary_id: BeneficiaryId, body: EngagementIn, response: Response
):
    """Lower the person's weekly hours target (health or disability, family situation, other),
    until a day or until removed."""
    read, created = engagement.put_engagement(session=session, caller=caller, beneficiary_id=beneficiary_id, body=body)
    if created:
        response.status_code = 201
    return read


@router.delete(
    "/beneficiaries/{beneficiary_id}/engagement",
    status_code=204,
    tags=["weekly hours"],
    responses=responses(401, 403, 404),
)
def delete_engagement(session: SessionDep, caller: PathwayReaderDep, beneficiary_id: BeneficiaryId):
    """Remove the lowered target: PDI_WEEKLY_HOURS_TARGET applies again."""
    engagement.delete_engagement(session=session, caller=caller, beneficiary_id=beneficiary_id)
    return Response(status_code=204)


@router.get(
    "/weekly-hours",
    response_model=Page[MeterPerson],
    tags=["weekly hours"],
    responses=responses(401, 403, 422),
)
def weekly_hours_meter(
    session: WriterSessionDep,
    caller: MeterReaderDep,
    params: PageDep,
    on: Annotated[IsoDay | None, Query(description="The day (default: today)")] = None,
    below: Annotated[
        float | None, Query(ge=0, le=1000, description="Persons below this many hours (default: below their target)")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="Persons with a pathway in progress in this action")
    ] = None,
    territory: Annotated[
        Territory | None, Query(description="Persons with a pathway in progress recorded there")
    ] = None,
    beneficiary_ref: Annotated[
        str | None, Query(min_length=1, max_length=64, description="One person, by file number")
    ] = None,
):
    """Per person, the hours a week their pathways in progress on `on` give them, beside their
    target: admin sees everyone, a portal the persons having a pathway it created (the ids of its
    own pathways only). The read is audited."""
    return engagement.weekly_hours_meter(
        session=session,
        caller=caller,
        params=params,
        on=on or today(),
        below=below,
        action=action,
        territory=territory.value if territory is not None else None,
        beneficiary_ref=beneficiary_ref,
    )
