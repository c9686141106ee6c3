"""Routes of the actions' assessments (the bilan qualitatif): any key reads, admins write."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response

from app.assessments import service
from app.assessments.models import MAX_YEAR, MIN_YEAR
from app.assessments.schemas import AssessmentRead, AssessmentWrite
from app.auth.dependencies import AdminDep, KeyHolderDep
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.etag import with_etag
from app.core.pagination import Page, PageDep

router = APIRouter(prefix="/actions/{code}/assessments", tags=["assessments"])

Code = Annotated[str, Path(max_length=64, pattern=r"^[^\x00]*$", description="The action's code")]
Year = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR)]
IfMatch = Annotated[str | None, Header(max_length=1000)]

_CREATED = {201: {"model": AssessmentRead, "description": "Created (the action had no assessment that year)"}}


@router.get("", response_model=Page[AssessmentRead], responses=responses(401, 403, 404, 422))
def list_assessments(session: SessionDep, _caller: KeyHolderDep, code: Code, page: PageDep):
    """An action's assessments, newest year first."""
    return service.list_assessments(session=session, code=code, page=page)


@router.get("/{year}", response_model=AssessmentRead, responses=responses(401, 403, 404, 422))
def get_assessment(session: SessionDep, _caller: KeyHolderDep, code: Code, year: Year, response: Response):
    """An action's assessment of one year (its bilan qualitatif)."""
    return with_etag(response, service.get_assessment(session=session, code=code, year=year))


@router.put("/{year}", response_model=AssessmentRead, responses={**_CREATED, **responses(401, 403, 404, 412, 422)})
def put_assessment(
    session: SessionDep,
    caller: AdminDep,
    code: Code,
    year: Year,
    data: AssessmentWrite,
    response: Response,
    if_match: IfMatch = None,
):
    """Write an action's assessment of one year (all its points at once); `If-Match` refuses lost updates."""
    assessment, created = service.put_assessment(
        session=session, caller=caller, code=code, year=year, data=data, if_match=if_match
    )
    if created:
        response.status_code = 201
    return with_etag(response, assessment)


@router.delete("/{year}", status_code=204, response_class=Response, responses=responses(401, 403, 404, 412, 422))
def delete_assessment(session: SessionDep, caller: AdminDep, code: Code, year: Year, if_match: IfMatch = None):
    """Delete an action's assessment of one year."""
    service.delete_assessment(session=session, caller=caller, code=code, year=year, if_match=if_match)
