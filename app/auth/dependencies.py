"""The dependencies routes use to know and check their caller."""

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.models import Role
from app.auth.service import ANONYMOUS, Caller, caller_for_key
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized

# auto_error=False: anonymous callers are allowed on public routes; the routes decide.
bearer = HTTPBearer(auto_error=False, description="An API key created with `pdi keys create`")


def get_caller(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller: anonymous without a key, 401 for a key that is unknown or revoked."""
    if credentials is None:
        return ANONYMOUS
    caller = caller_for_key(session=session, key=credentials.credentials)
    if caller is None:
        raise Unauthorized("Unknown or revoked API key")
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_role(*roles: Role):
    """A dependency that lets through only the given roles (401 anonymous, 403 others)."""

    def check(caller: CallerDep) -> Caller:
        if caller.is_anonymous:
            raise Unauthorized()
        if caller.role not in roles:
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}")
        return caller

    return check


AdminDep = Annotated[Caller, Depends(require_role(Role.admin))]
# Anyone holding a key: what a reader may see (catalogue, indicators, no personal data).
KeyHolderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.reader, Role.portal, Role.operator))]
