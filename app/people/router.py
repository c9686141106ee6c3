from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from app.auth.dependencies import AdminDep, require_role
from app.core.caller import Caller, Role
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_INT
from app.people import service
from app.people.schemas import MeKey, MembershipCreate, MembershipRead, MePerson, MeRead

router = APIRouter(tags=["people"])

MembershipId = Annotated[int, Path(ge=1, le=MAX_INT)]
AnyoneDep = Annotated[Caller, Depends(require_role(*Role))]


@router.get("/me", response_model=MeRead, responses=responses(401, 403))
def get_me(caller: AnyoneDep) -> MePerson | MeKey:
    """Who is calling: the person signed in (and the membership giving them their role), or the key."""
    if caller.person is not None:
        person = caller.person
        return MePerson(
            kind="person",
            subject=person.subject,
            email=person.email,
            name=person.name,
            siret=person.siret,
            role=caller.role,
            operator_id=caller.operator_id,
            membership_id=person.membership_id,
        )
    return MeKey(kind="key", key_id=caller.key_id, name=caller.name, role=caller.role, operator_id=caller.operator_id)


@router.post("/memberships", status_code=201, response_model=MembershipRead, responses=responses(401, 403, 409, 422))
def create_membership(session: SessionDep, caller: AdminDep, data: MembershipCreate):
    """Give a person (by subject or email) or an organisation's people (by SIRET) a role.

    In force at their next request. An operator membership names its operator; one matched by
    SIRET must name the operator having that SIRET."""
    return service.read_model(service.grant(session=session, caller=caller, data=data))


@router.get("/memberships", response_model=Page[MembershipRead], responses=responses(401, 403))
def list_memberships(
    session: SessionDep,
    _caller: AdminDep,
    page: PageDep,
    role: Annotated[Role | None, Query()] = None,
    operator_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
):
    """Every membership, oldest first."""
    rows, total = service.list_memberships(session=session, params=page, role=role, operator_id=operator_id)
    return Page.of([service.read_model(row) for row in rows], total, page)


@router.delete(
    "/memberships/{membership_id}", status_code=204, response_class=Response, responses=responses(401, 403, 404)
)
def delete_membership(session: SessionDep, caller: AdminDep, membership_id: MembershipId) -> Response:
    """Take a membership away: the people it matched are refused from their next request on."""
    service.delete_membership(session=session, caller=caller, membership_id=membership_id)
    return Response(status_code=204)
