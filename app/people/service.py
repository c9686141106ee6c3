"""Memberships: who of the identity provider's people holds which role (SPEC C10).

Granted by an admin (`POST /memberships`) or from the command line (`pdi people grant`, the first
admin). Each membership gets an owner key, a key row no one holds, under which what its people
create is recorded (app/auth/models.py); deleting the membership revokes that key, so its
webhooks stop too, and the people it matched are refused at their next request (memberships are
read at every request: app/auth/people.py)."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.audit.service import record
from app.auth.models import OWNER_KEY_PREFIX, ApiKey, MatchKind, Membership
from app.catalogue.models import Operator
from app.core.caller import Caller, Role
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.pagination import PageParams, paginate
from app.core.security import hash_api_key, new_api_key
from app.core.time import utcnow
from app.people.schemas import MatchEmail, MatchSiret, MatchSubject, MembershipCreate, MembershipRead


def match_of(data: MembershipCreate) -> tuple[MatchKind, str]:
    match data.match:
        case MatchSubject(subject=subject):
            return MatchKind.subject, subject
        case MatchEmail(email=email):
            return MatchKind.email, email.lower()
        case MatchSiret(siret=siret):
            return MatchKind.siret, siret
    raise AssertionError(data.match)


def grant(*, session: Session, caller: Caller, data: MembershipCreate) -> Membership:
    kind, value = match_of(data)
    if data.role == Role.operator and data.operator_id is None:
        raise InvalidInput("An operator membership must name its operator", loc=["body", "operator_id"])
    if data.role != Role.operator and data.operator_id is not None:
        raise InvalidInput("Only an operator membership is bound to an operator", loc=["body", "operator_id"])
    if data.operator_id is not None:
        operator = session.get(Operator, data.operator_id)
        if operator is None:
            raise InvalidInput(f"Operator {data.operator_id} does not exist", loc=["body", "operator_id"])
        if kind == MatchKind.siret and operator.siret != value:
            raise InvalidInput(
                f"SIRET {value} is not operator {operator.id}'s: an organisation's people act only for itself",
                loc=["body", "match", "siret"],
            )
    if _existing(session, kind, value) is not None:
        raise Conflict(f"A membership already matches {kind} {value!r}")
    owner = ApiKey(
        name=f"{OWNER_KEY_PREFIX} {kind} {value}"[:200],
        role=data.role,
        operator_id=data.operator_id,
        key_hash=hash_api_key(new_api_key()),  # the key itself is thrown away: no one can call with it
        prefix=OWNER_KEY_PREFIX,
    )
    session.add(owner)
    session.flush()
    membership = Membership(
        match_kind=kind,
        match_value=value,
        role=data.role,
        operator_id=data.operator_id,
        name=data.name,
        api_key_id=owner.id,
    )
    session.add(membership)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # granted by another request meanwhile
        raise Conflict(f"A membership already matches {kind} {value!r}") from None
    record(
        session=session,
        caller=caller,
        entity="membership",
        entity_id=membership.id,
        action="create",
        fields=["match", "role", *(["operator_id"] if data.operator_id else []), *(["name"] if data.name else [])],
    )
    return membership


def _existing(session: Session, kind: MatchKind, value: str) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.match_kind == kind, Membership.match_value == value)
    ).first()


def list_memberships(
    *, session: Session, params: PageParams, role: Role | None = None, operator_id: int | None = None
) -> tuple[list[Membership], int]:
    statement = select(Membership).order_by(Membership.id)
    if role is not None:
        statement = statement.where(Membership.role == role)
    if operator_id is not None:
        statement = statement.where(Membership.operator_id == operator_id)
    return paginate(session, statement, params)


def delete_membership(*, session: Session, caller: Caller, membership_id: int) -> None:
    membership = session.exec(select(Membership).where(Membership.id == membership_id).with_for_update()).first()
    if membership is None:
        raise NotFound(f"Membership {membership_id} does not exist")
    owner = session.get(ApiKey, membership.api_key_id)
    if owner is not None and owner.revoked_at is None:
        owner.revoked_at = utcnow()
        session.add(owner)
    session.delete(membership)
    session.flush()
    record(session=session, caller=caller, entity="membership", entity_id=membership_id, action="delete")


def read_model(membership: Membership) -> MembershipRead:
    match: dict[str, str] = {str(membership.match_kind): membership.match_value}
    return MembershipRead.model_validate(
        {
            "id": membership.id,
            "match": match,
            "role": membership.role,
            "operator_id": membership.operator_id,
            "name": membership.name,
            "created_at": membership.created_at,
        }
    )
