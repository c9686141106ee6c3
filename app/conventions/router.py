from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from app.auth.dependencies import AdminDep, KeyHolderDep
from app.conventions import service
from app.conventions.models import ConventionStatus
from app.conventions.schemas import ConventionCreate, ConventionRead, ConventionUpdate, ConventionYearBody
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.etag import with_etag
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_INT

router = APIRouter(prefix="/conventions", tags=["conventions"])

ConventionId = Annotated[int, Path(ge=1, le=MAX_INT)]
IfMatch = Annotated[str | None, Header(description="The ETag read last; 412 when the convention changed since")]


@router.get("", response_model=Page[ConventionRead], responses=responses(401, 403, 422))
def list_conventions(
    session: SessionDep,
    _caller: KeyHolderDep,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=64, description="Action code")] = None,
    operator: Annotated[int | None, Query(ge=1, le=MAX_INT, description="Operator id")] = None,
    year: Annotated[int | None, Query(ge=1, le=9999, description="Has a yearly line for this year")] = None,
    status: ConventionStatus | None = None,
):
    """List conventions, ordered by reference."""
    return service.list_conventions(
        session=session, page=page, action=action, operator_id=operator, year=year, status=status
    )


@router.post(
    "",
    status_code=201,
    response_model=ConventionRead,
    responses=responses(401, 403, 409, 422),
)
def create_convention(
    body: ConventionCreate, session: SessionDep, caller: AdminDep, request: Request, response: Response
):
    """Create a convention, with its sites and yearly lines."""
    convention = service.create_convention(session=session, caller=caller, data=body)
    response.headers["Location"] = str(request.url_for("get_convention", convention_id=convention.id))
    return with_etag(response, convention)


@router.get("/{convention_id}", response_model=ConventionRead, responses=responses(401, 403, 404, 422))
def get_convention(convention_id: ConventionId, session: SessionDep, _caller: KeyHolderDep, response: Response):
    """One convention, with its ETag."""
    return with_etag(response, service.get_convention(session=session, convention_id=convention_id))


@router.patch("/{convention_id}", response_model=ConventionRead, responses=responses(401, 403, 404, 409, 412, 422))
def update_convention(
    convention_id: ConventionId,
    body: ConventionUpdate,
    session: SessionDep,
    caller: AdminDep,
    response: Response,
    if_match: IfMatch = None,
):
    """Change a convention's reference, status, dates or sites."""
    convention = service.update_convention(
        session=session, caller=caller, convention_id=convention_id, data=body, if_match=if_match
    )
    return with_etag(response, convention)


@router.put(
    "/{convention_id}/years/{year}",
    response_model=ConventionRead,
    responses={201: {"description": "The yearly line was created"}, **responses(401, 403, 404, 409, 412, 422)},
)
def put_convention_year(
    convention_id: ConventionId,
    year: Annotated[int, Path(ge=1, le=9999)],
    body: ConventionYearBody,
    session: SessionDep,
    caller: AdminDep,
    response: Response,
    if_match: IfMatch = None,
):
    """Create or replace one yearly line of a convention."""
    convention, created = service.put_year(
        session=session, caller=caller, convention_id=convention_id, year=year, data=body, if_match=if_match
    )
    response.status_code = 201 if created else 200
    return with_etag(response, convention)
