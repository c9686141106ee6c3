"""The application: routers, error handlers, middleware."""

from contextlib import asynccontextmanager
from uuid import uuid4

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import app.models  # noqa: F401  (every table, so that the foreign keys between them resolve)
from app.assessments.router import router as assessments_router
from app.audit.router import router as audit_router
from app.auth.dependencies import admit_heavy_read, get_caller
from app.auth.key_cache import KeyCache
from app.auth.tokens import TokenVerifier
from app.availability.cache import AvailabilityCache, FeedWatch, PageCache
from app.availability.metrics import seats_available
from app.availability.router import router as availability_router
from app.catalogue.router import router as catalogue_router
from app.changes.caught_up import CaughtUpFeed
from app.changes.router import router as changes_router
from app.conventions.router import router as conventions_router
from app.core import health
from app.core.body_limit import BodySizeLimit
from app.core.budgets import StatementBudgets
from app.core.bulkhead import HeavyReadBulkhead
from app.core.config import Settings, get_settings, refuse_default_secret_off_loopback
from app.core.docs import install_docs
from app.core.errors import install_error_handlers
from app.core.heap import freeze_startup_objects
from app.core.logging import REQUEST_ID_HEADER, configure_logging, is_sane_request_id
from app.core.metrics import install_metrics
from app.core.openapi import OPENAPI_CONTACT, OPENAPI_LICENSE, OPENAPI_SERVERS, TAGS, install_openapi, operation_id
from app.core.rate_limits import RateLimits
from app.core.security_headers import SecurityHeaders
from app.core.server import HeaderCountLimit
from app.esf.reporting.router import router as esf_router
from app.exports.router import router as exports_router
from app.imports.router import router as imports_router
from app.indicators.router import router as indicators_router
from app.outbox.capture import install_feed_capture
from app.pathways.router import router as pathways_router
from app.people.router import router as people_router
from app.periods.router import router as periods_router
from app.reference.router import router as reference_router
from app.webhooks.metrics import webhook_metrics
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"
EXIT_RECORDS_PATH = f"{API_PREFIX}/exit-records"
AVAILABILITY_PATH = f"{API_PREFIX}/availability"
# Responses under these paths carry personal data: no cache may keep them.
# Reads that scan the pathways: a few at once per worker, one per caller (app/core/bulkhead.py).
HEAVY_READ_PATHS = tuple(f"{API_PREFIX}/{path}" for path in ("indicators", "bilan", "reports", "exports"))
PERSONAL_DATA_PATHS = (
    f"{API_PREFIX}/pathways",
    EXIT_RECORDS_PATH,
    f"{API_PREFIX}/audit-events",
    # The FSE's follow-ups and incomplete participant records name pathways (SPEC C9).
    f"{API_PREFIX}/follow-ups",
    f"{API_PREFIX}/esf/",
    # The contrat d'engagement: a person's target and hours (SPEC C11).
    f"{API_PREFIX}/beneficiaries",
    f"{API_PREFIX}/weekly-hours",
    # secrets, shown once
    f"{API_PREFIX}/webhooks",
)


def create_app(settings: Settings | None = None, *, host: str | None = None, served: bool = False) -> FastAPI:
    """The application; `host`, when given, is the interface it will be served on (checked
    against the default secret). `served`: the app a server process runs for its whole life
    (this module's `app`), whose startup objects are frozen once started (app/core/heap.py); the
    tests' many apps in one process are not, or nothing of them would ever be collected."""
    settings = settings or get_settings()
    install_feed_capture()
    if host is not None:
        refuse_default_secret_off_loopback(settings, host)
    configure_logging(settings)
    pages = PageCache(stale_seconds=settings.availability_stale_seconds)
    keys = KeyCache()
    watch = FeedWatch(settings.database_url, on_lost=pages.clear, keys=keys) if _watches_the_feed(settings) else None

    def listening() -> bool:
        return watch is not None and watch.current is not None

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if watch is not None:
            keys.listen_with(listening)
            watch.start()
        if served:
            freeze_startup_objects()
        yield
        if watch is not None:
            watch.stop()
            keys.stop_listening_with(listening)

    app = FastAPI(
        lifespan=lifespan,
        title="Catalogue PDI",
        version="0.1.0",
        description=(
            "The catalogue, conventions, pathways and indicators of a département's "
            "Programme Départemental d'Insertion (PDI). Press **Authorize** and paste an API key, "
            "or sign in where the département's identity provider is configured."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_tags=TAGS,
        servers=OPENAPI_SERVERS,
        license_info=OPENAPI_LICENSE,
        contact=OPENAPI_CONTACT,
        generate_unique_id_function=operation_id,
        # Every route checks the Authorization header it gets, public ones too (401 for a bad one),
        # and spends the caller's rate limit; a heavy read is then admitted, per caller.
        dependencies=[Depends(get_caller), Depends(admit_heavy_read)],
    )
    app.state.rate_limits = RateLimits(settings)
    app.state.statement_budgets = StatementBudgets(
        default=settings.db_statement_timeout_ms, admin=settings.db_statement_timeout_admin_ms
    )
    app.state.availability_pages = pages
    app.state.key_cache = keys
    # People's access tokens (SPEC C10), when an issuer is configured; else keys only.
    app.state.token_verifier = (
        TokenVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience) if settings.oidc_issuer else None
    )
    app.state.feed_watch = watch  # None where nothing listens (SQLite, tests, PDI_AVAILABILITY_CACHE=0)
    install_error_handlers(app)
    # Added innermost first: the headers wrap everything, CORS wraps the 413s and the pages
    # answered from memory, the cap comes before any route reads a byte.
    app.add_middleware(BodySizeLimit, limit_for=_body_limits(settings))
    app.add_middleware(HeaderCountLimit, limit=settings.max_headers, max_bytes=settings.max_header_bytes)
    app.add_middleware(
        HeavyReadBulkhead,
        prefixes=HEAVY_READ_PATHS,
        limit=settings.heavy_reads_concurrency,
        per_caller=settings.heavy_reads_per_caller,
        anonymous=settings.heavy_reads_anonymous,
        limits=app.state.rate_limits,
        parallel_workers=settings.heavy_reads_parallel_workers,
    )
    app.add_middleware(CaughtUpFeed, path=f"{API_PREFIX}/changes", watch=watch, limits=app.state.rate_limits, keys=keys)
    app.add_middleware(
        AvailabilityCache,
        path=AVAILABILITY_PATH,
        pages=pages,
        watch=watch,
        limits=app.state.rate_limits,
        keys=keys,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "Retry-After", REQUEST_ID_HEADER],
        )
    app.add_middleware(SecurityHeaders, hsts=settings.hsts, personal_data_paths=PERSONAL_DATA_PATHS)
    if settings.docs:
        install_docs(app, oidc_issuer=settings.oidc_issuer, docs_client_id=settings.oidc_docs_client_id)
    if settings.metrics:
        store = app.state.rate_limits.store
        watched = [lambda _session: watch.metrics()] if watch is not None else []
        install_metrics(app, scrape_time=[seats_available, webhook_metrics, lambda _session: store.metrics(), *watched])
    # Added last, so outermost: every response gets the id, CORS preflights and refusals included
    # (500s, answered outside every middleware, get it from their handler).
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        generator=lambda: uuid4().hex,
        validator=is_sane_request_id,
    )
    api = APIRouter(prefix=API_PREFIX)
    for router in (
        catalogue_router,
        assessments_router,
        conventions_router,
        pathways_router,
        availability_router,
        exports_router,
        imports_router,
        indicators_router,
        esf_router,
        periods_router,
        reference_router,
        audit_router,
        changes_router,
        webhooks_router,
        people_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    install_openapi(app, oidc_issuer=settings.oidc_issuer)
    return app


def _watches_the_feed(settings: Settings) -> bool:
    return settings.availability_cache and settings.database_url.startswith("postgresql")


def _body_limits(settings: Settings):
    def limit_for(path: str) -> int:
        # The batch endpoint takes bigger bodies, and still counts them itself (app/pathways/batches.py).
        return settings.max_batch_bytes if path == EXIT_RECORDS_PATH else settings.max_body_bytes

    return limit_for


app = create_app(served=True)
