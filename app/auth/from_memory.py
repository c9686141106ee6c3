"""The caller of a request answered from memory, before routing (availability's pages,
app/availability/cache.py; a caught-up feed's polls, app/changes/caught_up.py): known without
the database, its budget spent as the route would spend it.

Known here: an anonymous request, or a key the worker's key cache knows valid
(app/auth/key_cache.py). Any other `Authorization` header (a key not in the cache, an access
token, a malformed header) takes the route, which checks it (401 for a bad one) and keeps a valid
key in the cache; so does a request over its budget, which the route answers with its 429.
"""

from dataclasses import dataclass

from starlette.types import Scope

from app.auth.dependencies import bearer_token
from app.auth.key_cache import KeyCache
from app.core import time as clock
from app.core.caller import ANONYMOUS, Caller
from app.core.rate_limits import RateLimits, TooManyRequests
from app.core.security import hash_api_key


@dataclass(frozen=True)
class KnownCaller:
    caller: Caller
    key_hash: str | None  # None: anonymous


def known_caller(scope: Scope, keys: KeyCache | None) -> KnownCaller | None:
    """The request's caller when it is known here, else None (the route is to check it)."""
    authorization = next((value for name, value in scope["headers"] if name == b"authorization"), None)
    if authorization is None:
        return KnownCaller(ANONYMOUS, None)
    key = bearer_token(authorization.decode("latin-1")) if keys is not None else None
    key_hash = hash_api_key(key) if key else None
    caller = keys.caller(key_hash) if key_hash else None
    return KnownCaller(caller, key_hash) if caller is not None else None


def spend(known: KnownCaller, scope: Scope, limits: RateLimits, keys: KeyCache | None) -> bool:
    """Spend the request's budget (the key's, or the address's when anonymous) and note a key's
    use (written later by the feed watch's thread); False when over budget."""
    try:
        if known.key_hash is None:
            limits.spend_anonymous(scope["client"][0] if scope.get("client") else "unknown")
        else:
            limits.spend_key(known.caller.rate_limit_id)
    except TooManyRequests:
        return False
    if known.key_hash is not None and keys is not None:
        keys.note_use_later(known.key_hash, known.caller, now=clock.utcnow())
    return True
