"""People's access tokens checked as an OAuth 2.0 resource server (SPEC C10).

The service trusts one issuer (PDI_OIDC_ISSUER). A token is a JWT the issuer signed; it is
checked here, with PyJWT, against the keys the issuer publishes (its JWKS, named by the
`jwks_uri` of its discovery document), never against anything the token names itself:

- **algorithms**: RS256, PS256 or ES256 only. `none` would accept an unsigned token, and an HMAC
  algorithm would let anyone who knows the issuer's *public* key (everyone) sign one with it as
  the shared secret; `jku`, `x5u` and `jwk` headers name a key of the token's choosing, so a
  token carrying one is refused whatever its key;
- **claims**: `iss` is the issuer, `aud` holds PDI_OIDC_AUDIENCE (a token issued for another
  API is not ours to accept), `exp` not passed and `nbf`/`iat` not ahead, with 60 s of leeway for
  clocks apart; `sub` present (memberships match on it);
- **the keys** are kept in memory and fetched again only for a `kid` not among them (the issuer
  rotated its keys), at most once every REFETCH_SECONDS, each fetch bounded by FETCH_TIMEOUT: a
  flood of tokens naming unknown keys costs the issuer one request per 30 s, not one per token.
  When the issuer cannot be reached and no kept key fits, the token cannot be judged either way:
  503 with Retry-After (until the next fetch is allowed), while keys go on working.

Every refusal says why in its `detail`, never with the token's text; the token is not logged.
"""

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError, PyJWTError

from app.core.errors import AppError

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "PS256", "ES256")
# Header parameters that name the key to check the signature with: the token choosing its key.
KEY_NAMING_HEADERS = ("jku", "x5u", "jwk", "x5c")
LEEWAY_SECONDS = 60
REFETCH_SECONDS = 30.0
FETCH_TIMEOUT = 5.0
# Three base64url parts (the signature's may be empty: `alg: none`, refused below as such).
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def looks_like_a_token(bearer: str) -> bool:
    """A bearer value of three dot-separated base64url parts is a token; anything else a key
    (keys are `pdi_` and base64url, without dots)."""
    return _JWT_SHAPE.fullmatch(bearer) is not None


class InvalidToken(AppError):
    status = 401
    title = "Unauthorized"
    slug = "invalid-token"

    def __init__(self, detail: str):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class IssuerUnavailable(AppError):
    """The identity provider could not be reached and no key kept from it checks the token."""

    status = 503
    title = "Service unavailable"
    slug = "issuer-unavailable"


@dataclass(frozen=True)
class Claims:
    """What the service reads of a valid token."""

    subject: str
    email: str | None
    email_verified: bool | None
    name: str | None
    siret: str | None
    client_id: str | None


class TokenVerifier:
    """Checks access tokens of one issuer for one audience (thread-safe: the routes call it from
    the threadpool)."""

    def __init__(self, *, issuer: str, audience: str, clock: Callable[[], float] = time.monotonic):
        self.issuer = issuer
        self.audience = audience
        self._keys: dict[str, PyJWK] = {}  # kid → key, as last fetched
        self._jwks: PyJWKClient | None = None  # made once the discovery document named its URI
        self._last_attempt: float | None = None  # monotonic moment of the last fetch tried
        self._reachable = True  # whether that fetch got an answer
        self._lock = threading.Lock()
        self._clock = clock  # monotonic seconds; tests move it instead of waiting

    def verify(self, token: str) -> Claims:
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise InvalidToken("The token's header is not a JSON object in base64url") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise InvalidToken(f"Token algorithm {str(algorithm)[:20]!r} refused: only {', '.join(ALGORITHMS)}")
        named = [name for name in KEY_NAMING_HEADERS if name in header]
        if named:
            raise InvalidToken(f"A token naming its own key ({', '.join(named)}) is refused")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("The token's kid is not a string")
        key = self._key(kid)
        try:
            payload = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The token has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("The token is not valid yet (nbf or iat ahead)") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken(f"The token is not meant for this service (aud must hold {self.audience})") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken(f"The token was not issued by {self.issuer}") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("The token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The token has no {exc.claim!r} claim") from None
        except PyJWTError as exc:
            raise InvalidToken(f"The token is malformed ({type(exc).__name__})") from None
        return _claims(payload)

    # --- the issuer's keys ----------------------------------------------------------------------

    def _key(self, kid: str | None) -> PyJWK:
        found = self._kept(kid)
        if found is not None:
            return found
        with self._lock:
            found = self._kept(kid)  # another thread may have fetched meanwhile
            if found is not None:
                return found
            since = None if self._last_attempt is None else self._clock() - self._last_attempt
            if since is not None and since < REFETCH_SECONDS:
                if self._reachable:
                    raise InvalidToken("The token is signed by a key the issuer does not publish")
                raise self._unavailable(REFETCH_SECONDS - since)
            self._fetch()
            found = self._kept(kid)
            if found is None:
                raise InvalidToken("The token is signed by a key the issuer does not publish")
            return found

    def _kept(self, kid: str | None) -> PyJWK | None:
        keys = self._keys
        if kid is None:
            # An issuer with one key may leave kid out: that one key, or none.
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def _fetch(self) -> None:
        """Fetch the issuer's keys (the discovery document first, once); under the lock."""
        self._last_attempt = self._clock()
        try:
            if self._jwks is None:
                self._jwks = PyJWKClient(self._jwks_uri(), cache_jwk_set=False, timeout=FETCH_TIMEOUT)
            jwk_set = PyJWKSet.from_dict(self._jwks.fetch_data())
        except (httpx.HTTPError, ValueError, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError) as exc:
            self._reachable = False
            log.warning("identity provider %s: keys not fetched (%s)", self.issuer, type(exc).__name__)
            raise self._unavailable(REFETCH_SECONDS) from None
        self._reachable = True
        self._keys = {
            key.key_id: key
            for key in jwk_set.keys
            if key.key_id and key.public_key_use in (None, "sig") and key.algorithm_name in ALGORITHMS
        }
        log.info("identity provider %s: %d signing keys fetched", self.issuer, len(self._keys))

    def _jwks_uri(self) -> str:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = httpx.get(url, timeout=FETCH_TIMEOUT, follow_redirects=False, trust_env=False)
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != self.issuer or not isinstance(document.get("jwks_uri"), str):
            # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer asked.
            raise ValueError("discovery document of another issuer, or without jwks_uri")
        return document["jwks_uri"]

    def _unavailable(self, seconds: float) -> IssuerUnavailable:
        return IssuerUnavailable(
            "The identity provider cannot be reached to check this token's signature: try again later",
            headers={"Retry-After": str(max(1, math.ceil(seconds)))},
        )


def _claims(payload: dict[str, Any]) -> Claims:
    def text(name: str) -> str | None:
        value = payload.get(name)
        return value if isinstance(value, str) and value else None

    verified = payload.get("email_verified")
    name = text("name") or " ".join(part for part in (text("given_name"), text("usual_name")) if part) or None
    return Claims(
        subject=str(payload["sub"]),
        email=text("email"),
        email_verified=verified if isinstance(verified, bool) else None,
        name=name,
        # ProConnect sends the organisation's SIRET; some providers put it as a number.
        siret=str(payload["siret"]) if isinstance(payload.get("siret"), str | int) else None,
        client_id=text("azp") or text("client_id"),
    )
