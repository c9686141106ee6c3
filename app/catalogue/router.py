"""Catalogue routes: reads are public, writes are for admins."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from app.auth.dependencies import AdminDep, CallerDep
from app.catalogue import service
from app.catalogue.models import Territory
from app.catalogue.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    FamilyCreate,
    FamilyRead,
    FamilyUpdate,
    OperatorCreate,
    OperatorRead,
    OperatorUpdate,
    SiteCreate,
    SiteRead,
)
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.etag import with_etag
from app.core.pagination import Page, PageDep

router = APIRouter()
families = APIRouter(prefix="/families", tags=["families"])
actions = APIRouter(prefix="/actions", tags=["actions"])
operators = APIRouter(prefix="/operators", tags=["operators"])

# Bounded ids and NUL-free strings: what a client sends must never overflow a column or make
# PostgreSQL refuse a parameter (a 500); it is a 422 or a 404.
MAX_ID = 2**31 - 1
NO_NUL = r"^[^\x00]*$"
Code = Annotated[str, Path(max_length=64, pattern=NO_NUL)]
OperatorId = Annotated[int, Path(ge=1, le=MAX_ID)]
IfMatch = Annotated[str | None, Header(max_length=1000)]
SearchText = Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="Case-insensitive search")]


# --- families ---------------------------------------------------------------------------


@families.get("", response_model=Page[FamilyRead], responses=responses(401, 422))
def list_families(session: SessionDep, _caller: CallerDep, page: PageDep):
    """Families (axes of the programme), by position."""
    return service.list_families(session=session, page=page)


@families.post("", status_code=201, response_model=FamilyRead, responses=responses(401, 403, 409, 422))
def create_family(session: SessionDep, caller: AdminDep, data: FamilyCreate):
    """Create a family."""
    return service.create_family(session=session, caller=caller, data=data)


@families.get("/{code}", response_model=FamilyRead, responses=responses(401, 404))
def get_family(session: SessionDep, _caller: CallerDep, code: Code, response: Response):
    """One family."""
    return with_etag(response, service.get_family(session=session, code=code))


@families.patch("/{code}", response_model=FamilyRead, responses=responses(401, 403, 404, 409, 412, 422))
def update_family(
    session: SessionDep, caller: AdminDep, code: Code, data: FamilyUpdate, response: Response, if_match: IfMatch = None
):
    """Change some fields of a family (its code too)."""
    family = service.update_family(session=session, caller=caller, code=code, data=data, if_match=if_match)
    return with_etag(response, family)


@families.delete("/{code}", status_code=204, response_class=Response, responses=responses(401, 403, 404, 409))
def delete_family(session: SessionDep, caller: AdminDep, code: Code):
    """Delete a family that has no action."""
    service.delete_family(session=session, caller=caller, code=code)


# --- actions ----------------------------------------------------------------------------


@actions.get("", response_model=Page[ActionRead], responses=responses(401, 422))
def list_actions(
    session: SessionDep,
    _caller: CallerDep,
    page: PageDep,
    family: Annotated[str | None, Query(max_length=64, pattern=NO_NUL, description="Family code")] = None,
    operator: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Operator id: actions it has a convention for")
    ] = None,
    territory: Annotated[
        Territory | None, Query(description="Actions with a convention delivered at a site of this territory")
    ] = None,
    q: SearchText = None,
):
    """Actions, by number; filters by family, operator, territory, text."""
    return service.list_actions(
        session=session, page=page, family=family, operator_id=operator, territory=territory, q=q
    )


@actions.post("", status_code=201, response_model=ActionRead, responses=responses(401, 403, 409, 422))
def create_action(session: SessionDep, caller: AdminDep, data: ActionCreate):
    """Create an action in a family."""
    return service.create_action(session=session, caller=caller, data=data)


@actions.get("/{code}", response_model=ActionRead, responses=responses(401, 404))
def get_action(session: SessionDep, _caller: CallerDep, code: Code, response: Response):
    """One action."""
    return with_etag(response, service.get_action(session=session, code=code))


@actions.patch("/{code}", response_model=ActionRead, responses=responses(401, 403, 404, 409, 412, 422))
def update_action(
    session: SessionDep, caller: AdminDep, code: Code, data: ActionUpdate, response: Response, if_match: IfMatch = None
):
    """Change some fields of an action."""
    action = service.update_action(session=session, caller=caller, code=code, data=data, if_match=if_match)
    return with_etag(response, action)


@actions.delete("/{code}", status_code=204, response_class=Response, responses=responses(401, 403, 404, 409))
def delete_action(session: SessionDep, caller: AdminDep, code: Code):
    """Delete an action no convention refers to."""
    service.delete_action(session=session, caller=caller, code=code)


# --- operators and their sites ----------------------------------------------------------


@operators.get("", response_model=Page[OperatorRead], responses=responses(401, 422))
def list_operators(
    session: SessionDep,
    _caller: CallerDep,
    page: PageDep,
    action: Annotated[
        str | None, Query(max_length=64, pattern=NO_NUL, description="Action code: operators with a convention for it")
    ] = None,
    commune: Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="The operator's commune or one of its sites'")
    ] = None,
    q: SearchText = None,
):
    """Operators, by name; filters by action, commune, name."""
    return service.list_operators(session=session, page=page, action=action, commune=commune, q=q)


@operators.post("", status_code=201, response_model=OperatorRead, responses=responses(401, 403, 409, 422))
def create_operator(session: SessionDep, caller: AdminDep, data: OperatorCreate):
    """Create an operator."""
    return service.create_operator(session=session, caller=caller, data=data)


@operators.get("/{operator_id}", response_model=OperatorRead, responses=responses(401, 404, 422))
def get_operator(session: SessionDep, _caller: CallerDep, operator_id: OperatorId, response: Response):
    """One operator."""
    return with_etag(response, service.get_operator(session=session, operator_id=operator_id))


@operators.patch("/{operator_id}", response_model=OperatorRead, responses=responses(401, 403, 404, 409, 412, 422))
def update_operator(
    session: SessionDep,
    caller: AdminDep,
    operator_id: OperatorId,
    data: OperatorUpdate,
    response: Response,
    if_match: IfMatch = None,
):
    """Change some fields of an operator."""
    operator = service.update_operator(
        session=session, caller=caller, operator_id=operator_id, data=data, if_match=if_match
    )
    return with_etag(response, operator)


@operators.delete(
    "/{operator_id}", status_code=204, response_class=Response, responses=responses(401, 403, 404, 409, 422)
)
def delete_operator(session: SessionDep, caller: AdminDep, operator_id: OperatorId):
    """Delete an operator without conventions, sites or API keys."""
    service.delete_operator(session=session, caller=caller, operator_id=operator_id)


@operators.get("/{operator_id}/sites", response_model=Page[SiteRead], responses=responses(401, 404, 422))
def list_sites(session: SessionDep, _caller: CallerDep, operator_id: OperatorId, page: PageDep):
    """An operator's sites, by name."""
    return service.list_sites(session=session, operator_id=operator_id, page=page)


@operators.post(
    "/{operator_id}/sites", status_code=201, response_model=SiteRead, responses=responses(401, 403, 404, 422)
)
def create_site(session: SessionDep, caller: AdminDep, operator_id: OperatorId, data: SiteCreate):
    """Add a site to an operator."""
    return service.create_site(session=session, caller=caller, operator_id=operator_id, data=data)


router.include_router(families)
router.include_router(actions)
router.include_router(operators)
