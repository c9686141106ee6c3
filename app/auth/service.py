"""API keys: creation (CLI), revocation, and resolving the caller of a request."""

from dataclasses import dataclass

from sqlmodel import Session, select

from app.auth.models import ApiKey, Role
from app.catalogue.models import Operator
from app.core.errors import InvalidInput, NotFound
from app.core.security import hash_api_key, new_api_key
from app.core.time import utcnow


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key's identity, or anonymous (role None)."""

    key_id: int | None
    name: str
    role: Role | None
    operator_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    def sees_personal_data(self) -> bool:
        return self.role in (Role.admin, Role.portal, Role.operator)


ANONYMOUS = Caller(key_id=None, name="anonymous", role=None)
# Writes made from the command line (seed, demo) are recorded under this name.
CLI = Caller(key_id=None, name="cli", role=Role.admin)


def create_key(*, session: Session, role: Role, name: str, operator_id: int | None = None) -> tuple[ApiKey, str]:
    """Store a new key's hash; return the row and the key itself, which is never stored."""
    if role == Role.operator and operator_id is None:
        raise InvalidInput("An operator key must name its operator (--operator-id)", loc=["operator_id"])
    if role != Role.operator and operator_id is not None:
        raise InvalidInput("Only an operator key is bound to an operator", loc=["operator_id"])
    if operator_id is not None and session.get(Operator, operator_id) is None:
        raise NotFound(f"Operator {operator_id} does not exist")
    key = new_api_key()
    row = ApiKey(name=name, role=role, operator_id=operator_id, key_hash=hash_api_key(key), prefix=key[:12])
    session.add(row)
    session.flush()
    return row, key


def revoke_key(*, session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row


def caller_for_key(*, session: Session, key: str) -> Caller | None:
    """The caller a key stands for, or None when it is unknown or revoked."""
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    return Caller(key_id=row.id, name=row.name, role=Role(row.role), operator_id=row.operator_id)
