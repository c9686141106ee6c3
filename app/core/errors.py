"""Domain errors and their RFC 9457 `application/problem+json` rendering.

Services raise `AppError` subclasses (never `HTTPException`); one set of handlers turns
them, request-validation errors and any stray HTTP error into the same problem shape.
"""

import logging
import time
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.logging import REQUEST_ID_HEADER

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://catalogue-pdi.example/problems/"

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        errors_not_listed: int = 0,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        # Errors found but not even gathered in `errors` (too many to be worth building).
        self.errors_not_listed = errors_not_listed
        self.headers = headers

    def to_problem(self) -> dict[str, Any]:
        body = problem(self.status, self.title, self.detail, slug=self.slug, errors=self.errors)
        if self.errors_not_listed:
            body["errors_not_listed"] = body.get("errors_not_listed", 0) + self.errors_not_listed
        return body


class InvalidInput(AppError):
    """Well-formed input that breaks a rule of the domain (dates out of order, SIRET…)."""

    status = 422
    title = "Invalid input"
    slug = "invalid-input"

    def __init__(self, detail: str, *, loc: list[str | int] | None = None, **kwargs):
        errors = kwargs.pop("errors", None) or ([{"loc": loc, "msg": detail}] if loc else None)
        super().__init__(detail, errors=errors, **kwargs)


class Unauthorized(AppError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"

    def __init__(self, detail: str = "A valid API key is required (Authorization: Bearer <key>)"):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(AppError):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(AppError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class PeriodConsolidated(Conflict):
    title = "Period consolidated"
    slug = "period-consolidated"


class ConventionFull(Conflict):
    """A prescription sent with `if_full: "refuse"` on a convention with no free seat."""

    title = "Convention full"
    slug = "convention-full"


class DatabaseUnavailable(AppError):
    """The database is down, restarting, or too busy to take the request in time."""

    status = 503
    title = "Service unavailable"
    slug = "database-unavailable"


class StatementTimedOut(DatabaseUnavailable):
    """A statement ran past the request's budget (PDI_DB_STATEMENT_TIMEOUT_MS) and was stopped."""

    slug = "statement-timeout"


class ResourcesExhausted(DatabaseUnavailable):
    """The database ran out of disk, memory or connections (SQLite's SQLITE_FULL, PostgreSQL's
    SQLSTATE class 53): nothing of the request was stored; it may succeed once resources are freed."""

    slug = "database-resources-exhausted"


class SerializationConflict(Conflict):
    """Two transactions crossed (a deadlock or a serialisation failure): trying again succeeds."""

    title = "Concurrent update"
    slug = "concurrent-update"


class PreconditionFailed(AppError):
    status = 412
    title = "Precondition failed"
    slug = "precondition-failed"


class PayloadTooLarge(AppError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(AppError):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


# A problem lists at most this many errors (`errors`), and counts the others (`errors_not_listed`):
# an answer stays small whatever the input (70,000 unknown keys are 100 errors and a count).
MAX_LISTED_ERRORS = 100
# The longest text an error repeats from the input (a key, a column's name): longer is cut.
MAX_ECHOED_CHARS = 100


def problem(status: int, title: str, detail: str, *, slug: str | None = None, errors=None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors[:MAX_LISTED_ERRORS]
        if len(errors) > MAX_LISTED_ERRORS:
            body["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
    return body


def list_at_most(problems: list[dict[str, Any]], budget: int = MAX_LISTED_ERRORS) -> None:
    """Share one budget of listed errors among several problems (the items of a batch answer):
    once `budget` errors are listed, the next problems only count theirs (`errors_not_listed`)."""
    for body in problems:
        errors = body.get("errors")
        if not errors:
            continue
        kept = errors[:budget]
        budget -= len(kept)
        if len(kept) < len(errors):
            body["errors_not_listed"] = body.get("errors_not_listed", 0) + len(errors) - len(kept)
            if kept:
                body["errors"] = kept
            else:
                del body["errors"]


def echoed(text: str, limit: int = MAX_ECHOED_CHARS) -> str:
    """Input repeated in an error, cut to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(body), status_code=body["status"], media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


class ProblemItem(BaseModel):
    """One thing wrong with the input: where (`loc`, e.g. `["body", 0, "exited_on"]`) and what."""

    loc: list[str | int] = Field(description="The path to the field: `body`, `query`, `path` or `header`, then keys")
    msg: str


class Problem(BaseModel):
    """The RFC 9457 body of every error, for the OpenAPI document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = Field(
        default=None, description=f"What was wrong with the input (422), at most {MAX_LISTED_ERRORS} of its errors"
    )
    errors_not_listed: int | None = Field(
        default=None, description="How many more errors the input had, beyond those listed in `errors`"
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the problem statuses it can answer (app/core/openapi.py gives
    each its description; 401, 422, 429 and 503 are added to every route there)."""
    return {
        status: {"content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for status in statuses
    }


def validation_errors(exc_errors) -> list[dict[str, Any]]:
    # Keep what a client can act on; drop pydantic's echo of the input (it may hold personal data),
    # and cut what still repeats it (a 1 MB key is an error of 100 characters).
    return [
        {
            "loc": [echoed(part) if isinstance(part, str) else part for part in err.get("loc", ())],
            "msg": echoed(err.get("msg", ""), 10 * MAX_ECHOED_CHARS),
        }
        for err in exc_errors
    ]


# --- database faults ---------------------------------------------------------------------------

RETRY_SOON = {"Retry-After": "1"}
RETRY_LATER = {"Retry-After": "5"}
# PostgreSQL's SQLSTATEs for crossed transactions (serialization_failure, deadlock_detected) and
# for waits that ran out (lock_not_available from lock_timeout, query_canceled).
CROSSED = {"40001", "40P01"}
LOCK_TIMED_OUT = "55P03"
# Out of resources where no SQLSTATE says it: SQLite's SQLITE_FULL, and PostgreSQL refusing a new
# connection (psycopg reports connection failures without their SQLSTATE, 53300).
OUT_OF_RESOURCES = (
    "database or disk is full",
    "too many connections",
    "remaining connection slots are reserved",
)
# query_canceled: the statement ran past statement_timeout (or its client hung up).
STATEMENT_TIMED_OUT = "57014"


def sqlstate_of(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def constraint_of(exc: DBAPIError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    # SQLite names the rule in its message ("UNIQUE constraint failed: family.code"), no values.
    return name or (str(exc.orig).splitlines()[0] if not hasattr(exc.orig, "sqlstate") else "unknown constraint")


# When the database last said it ran out of resources (time.monotonic()), for /readyz.
_resources_exhausted_at: list[float] = []


def resources_exhausted_lately(seconds: float) -> bool:
    return bool(_resources_exhausted_at) and time.monotonic() - _resources_exhausted_at[-1] < seconds


def _note_resources_exhausted() -> None:
    _resources_exhausted_at[:] = [time.monotonic()]


def database_fault(exc: DBAPIError) -> AppError | None:
    """The problem a client gets for a fault of the database rather than of its request, or
    None when the error is not one (a bug: 500)."""
    state = sqlstate_of(exc)
    if state in CROSSED:
        return SerializationConflict(
            "Another request changed the same data at the same moment: send it again", headers=RETRY_SOON
        )
    message = str(exc.orig).lower()
    if (state or "").startswith("53") or any(sign in message for sign in OUT_OF_RESOURCES):
        _note_resources_exhausted()
        return ResourcesExhausted(
            "The database is out of disk, memory or connections: nothing was stored; try again later",
            headers=RETRY_LATER,
        )
    if state == LOCK_TIMED_OUT:
        return DatabaseUnavailable("The data is locked by other requests: try again shortly", headers=RETRY_SOON)
    if state == STATEMENT_TIMED_OUT or (not hasattr(exc.orig, "sqlstate") and message.startswith("interrupted")):
        # PostgreSQL's statement_timeout, or SQLite's progress handler (app/core/engines.py).
        return StatementTimedOut(
            "The request ran longer than the database allows one request: narrow it, or try again later",
            headers=RETRY_LATER,
        )
    if "database is locked" in message or "database is busy" in message:  # SQLite's busy timeout ran out
        return DatabaseUnavailable("The database is busy with other writes: try again shortly", headers=RETRY_SOON)
    unreachable = DatabaseUnavailable("The database cannot be reached: try again shortly", headers=RETRY_LATER)
    if exc.connection_invalidated or (state or "").startswith(("08", "57P")):  # lost, shutting down, starting
        return unreachable
    from_psycopg = hasattr(exc.orig, "sqlstate")
    if from_psycopg and state is None and isinstance(exc, OperationalError | InterfaceError):
        return unreachable  # no server to talk to, or a connection closed under us: no SQLSTATE
    if not from_psycopg and ("unable to open" in message or "disk i/o" in message):
        return unreachable
    return None


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the application takes on the request's path, as the router
    itself matches them."""
    methods = []
    for method in HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def on_app_error(_request: Request, exc: AppError):
        return problem_response(exc.to_problem(), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        body = problem(
            422,
            "Invalid input",
            "The request does not match the expected shape",
            slug="invalid-input",
            errors=validation_errors(errors[:MAX_LISTED_ERRORS]),
        )
        if len(errors) > MAX_LISTED_ERRORS:
            body["errors_not_listed"] = len(errors) - MAX_LISTED_ERRORS
        return problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path only; a path served
            # by several routes (GET here, POST there) takes them all.
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return problem_response(problem(exc.status_code, detail, detail), headers)

    @app.exception_handler(IntegrityError)
    async def on_integrity_error(_request: Request, exc: IntegrityError):
        # Services check uniqueness first; this covers the race between two clients. The
        # driver's message may quote the row's values: log only which rule refused it.
        log.info("integrity error turned into 409: %s", constraint_of(exc))
        return problem_response(problem(409, "Conflict", "The request conflicts with stored data", slug="conflict"))

    @app.exception_handler(DataError)
    async def on_data_error(_request: Request, exc: DataError):
        # A value the database cannot hold (out of range, NUL byte…) that validation let through.
        log.warning("database refused a value (%s)", sqlstate_of(exc) or type(exc.orig).__name__)
        return problem_response(
            problem(422, "Invalid input", "A value is out of the range the database can store", slug="invalid-input")
        )

    @app.exception_handler(DBAPIError)
    async def on_database_fault(_request: Request, exc: DBAPIError):
        error = database_fault(exc)
        if error is None:
            log.error("database error (%s: %s)", type(exc.orig).__name__, sqlstate_of(exc))
            return problem_response(problem(500, "Internal server error", "An unexpected error occurred"))
        log.warning("database fault answered %s: %s (%s)", error.status, type(exc.orig).__name__, sqlstate_of(exc))
        return problem_response(error.to_problem(), error.headers)

    @app.exception_handler(PoolTimeoutError)
    async def on_pool_timeout(_request: Request, _exc: PoolTimeoutError):
        error = DatabaseUnavailable("Every database connection is busy: try again shortly", headers=RETRY_SOON)
        return problem_response(error.to_problem(), error.headers)

    @app.exception_handler(Exception)
    async def on_unexpected_error(_request: Request, exc: Exception):
        log.exception("unhandled error")
        # This handler answers outside every middleware, the request id's included: add it here.
        request_id = correlation_id.get()
        return problem_response(
            problem(500, "Internal server error", "An unexpected error occurred"),
            {REQUEST_ID_HEADER: request_id} if request_id else None,
        )
