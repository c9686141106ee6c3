"""The caller a person's valid token stands for: their membership's role (SPEC C10).

Memberships are read from the database at every request, never kept in memory: a membership
deleted (or granted) in one worker process is in force at the next request in every other, with
nothing to announce. It is one indexed statement on a short table, beside the token's signature
check, which costs more."""

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.auth.models import MatchKind, Membership
from app.auth.tokens import Claims
from app.core.caller import Caller, Person, Role

SPECIFICITY = (MatchKind.subject, MatchKind.email, MatchKind.siret)


def matches(claims: Claims) -> list[tuple[MatchKind, str]]:
    """What a person's token may be matched by, most specific first: their subject, their email
    (not when the provider says it is unverified), their organisation's SIRET."""
    found = [(MatchKind.subject, claims.subject)]
    if claims.email and claims.email_verified is not False:
        found.append((MatchKind.email, claims.email.lower()))
    if claims.siret:
        found.append((MatchKind.siret, claims.siret))
    return found


def membership_for(*, session: Session, claims: Claims) -> Membership | None:
    """The most specific membership matching the token, or None."""
    wanted = matches(claims)
    rows = session.exec(
        select(Membership).where(
            or_(*(and_(Membership.match_kind == kind, Membership.match_value == value) for kind, value in wanted))
        )
    ).all()
    return min(rows, key=lambda row: SPECIFICITY.index(MatchKind(row.match_kind)), default=None)


def person_caller(*, session: Session, claims: Claims) -> Caller | None:
    """The caller of a valid token, or None when no membership matches it (a 403)."""
    membership = membership_for(session=session, claims=claims)
    if membership is None:
        return None
    person = Person(
        subject=claims.subject,
        email=claims.email,
        name=claims.name,
        siret=claims.siret,
        client_id=claims.client_id,
        membership_id=membership.id,
    )
    return Caller(
        key_id=membership.api_key_id,
        # What the audit names them by: their email, else their subject.
        name=claims.email or claims.subject,
        role=Role(membership.role),
        operator_id=membership.operator_id,
        person=person,
    )
