"""The dependencies routes use to know and check their caller."""

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from app.auth.key_cache import KeyCache
from app.auth.people import person_caller
from app.auth.service import lookup_key, note_key_use
from app.auth.tokens import InvalidToken, TokenVerifier, looks_like_a_token
from app.core.budgets import StatementBudgets, raise_statement_budget
from app.core.bulkhead import HeavyReadTicket
from app.core.caller import ANONYMOUS, Caller, Role
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.rate_limits import RateLimits
from app.core.security import hash_api_key
from app.core.time import utcnow


def bearer_token(authorization: str) -> str | None:
    """The key of a `Bearer <key>` header; None for any other shape."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def client_address(request: Request) -> str:
    # Behind a reverse proxy, uvicorn's --proxy-headers puts the forwarded address here.
    return request.client.host if request.client else "unknown"


# Health checks and scrapes come from load balancers and Prometheus, often from one address
# (a NAT, the proxy): they spend no budget, so that they never see a 429 for others' traffic.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Set in the scope's state of a request the service makes to itself (availability's pages built
# in the background, app/availability/cache.py): nobody's budget is spent for it.
UNMETERED = "pdi.unmetered"


async def get_caller(request: Request, session: SessionDep) -> Caller:
    """The caller: anonymous without an Authorization header; 401 for any header that is not a
    valid `Bearer <key>` (malformed, unknown, revoked, expired), on every route. Spends the
    caller's rate limit (429). Failed authentications are counted per address and refuse only
    further failures (429 instead of 401): a valid key is never refused for them.

    Valid keys are checked from the worker's key cache (app/auth/key_cache.py), failures always
    in the database. On the event loop: an anonymous caller or a key known valid costs no thread
    hop; the database is asked from the threadpool (a key not in the cache, its last use once a
    minute), and so is a shared rate-limit store (a network call). The header is read here, not
    by FastAPI's HTTPBearer (which takes a `Basic …` header for no header at all): the OpenAPI
    document declares the schemes itself (app/core/openapi.py)."""
    limits: RateLimits = request.app.state.rate_limits
    address = client_address(request)
    limited = request.scope["path"] not in UNLIMITED_PATHS and not request.scope.get("state", {}).get(UNMETERED)
    authorization = request.headers.get("authorization")
    if authorization is None:
        if limited:
            await _spend(limits, limits.spend_anonymous, address)
        return ANONYMOUS
    key = bearer_token(authorization)
    verifier: TokenVerifier | None = request.app.state.token_verifier
    if verifier is not None and key is not None and looks_like_a_token(key):
        caller = await _person(request, session, verifier, key, limits, address)
        if limited:
            await _spend(limits, limits.spend_key, caller.rate_limit_id)
        await _admin_budget(request, session, caller)
        return caller
    key_hash = hash_api_key(key) if key else None
    keys: KeyCache = request.app.state.key_cache
    now = utcnow()
    caller = keys.caller(key_hash, now=now) if key_hash else None
    if caller is None and key_hash:
        caller = await run_in_threadpool(_look_up, keys, session, key_hash, now)
    if caller is None:
        # Counted on health paths too: they must not become a place to try keys at speed.
        await _spend(limits, limits.check_auth_failures, address)
        await _spend(limits, limits.spend_auth_failure, address)
        raise Unauthorized("Unknown, revoked or expired API key, or not `Authorization: Bearer <key>`")
    if limited:
        await _spend(limits, limits.spend_key, caller.rate_limit_id)
    await _admin_budget(request, session, caller)
    if keys.use_due(key_hash, caller, now=now):
        await run_in_threadpool(lambda: note_key_use(session=session, caller=caller, now=now))
    return caller


async def _person(
    request: Request, session: Session, verifier: TokenVerifier, token: str, limits: RateLimits, address: str
) -> Caller:
    """The caller of a person's access token (app/auth/tokens.py, app/auth/people.py): 401 for a
    token refused, counted as a failed authentication; 503 when the issuer cannot be reached to
    check it; 403 for a valid token that no membership matches. In the threadpool: the check may
    fetch the issuer's keys, and the membership is read from the database."""

    def resolve() -> Caller | None:
        claims = verifier.verify(token)
        return person_caller(session=session, claims=claims)

    try:
        caller = await run_in_threadpool(resolve)
    except InvalidToken:
        await _spend(limits, limits.check_auth_failures, address)
        await _spend(limits, limits.spend_auth_failure, address)
        raise
    if caller is None:
        raise Forbidden("Signed in, but no membership gives this person a role here: ask an administrator")
    return caller


async def _admin_budget(request: Request, session: Session, caller: Caller) -> None:
    if caller.role == Role.admin:
        budget = StatementBudgets.of(request).admin
        if session.in_transaction():  # the lookup's: bounded again, which takes the database
            await run_in_threadpool(raise_statement_budget, request, session, budget)
        else:
            raise_statement_budget(request, session, budget)


def _look_up(keys: KeyCache, session: Session, key_hash: str, now: datetime) -> Caller | None:
    generation = keys.generation  # before the lookup: a revocation heard meanwhile wins
    found = lookup_key(session=session, key_hash=key_hash, now=now)
    if found is None:
        return None
    caller, expires_at = found
    keys.keep(key_hash, caller, expires_at=expires_at, generation=generation)
    return caller


async def _spend(limits: RateLimits, spend, who) -> None:
    # Counters in memory are a dictionary; a shared store is a network call, kept off the loop.
    if limits.in_memory:
        spend(who)
    else:
        await run_in_threadpool(spend, who)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def admit_heavy_read(request: Request, caller: CallerDep) -> None:
    """A heavy read (app/core/bulkhead.py) admitted now that its caller is known: 503 with
    Retry-After when that caller, or the anonymous callers together, or everyone, run enough."""
    ticket = HeavyReadTicket.of(request.scope)
    if ticket is not None:
        await ticket.admit(caller.identity)


def require_role(*roles: Role):
    """A dependency that lets through only the given roles (401 anonymous, 403 others)."""

    async def check(caller: CallerDep) -> Caller:  # async: no thread hop for a comparison
        if caller.is_anonymous:
            raise Unauthorized()
        if caller.role not in roles:
            raise Forbidden(f"This needs one of the roles: {', '.join(roles)}")
        return caller

    # Read by the OpenAPI document: routes behind this check declare the key as required.
    check.requires_key = True  # type: ignore[attr-defined]
    return check


AdminDep = Annotated[Caller, Depends(require_role(Role.admin))]
# Anyone holding a key: what a reader may see (catalogue, indicators, no personal data).
KeyHolderDep = Annotated[Caller, Depends(require_role(Role.admin, Role.reader, Role.portal, Role.operator))]
