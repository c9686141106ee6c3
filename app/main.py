"""The application: routers, error handlers, middleware."""

from uuid import uuid4

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.audit.router import router as audit_router
from app.availability.metrics import seats_available
from app.availability.router import router as availability_router
from app.catalogue.router import router as catalogue_router
from app.changes import capture as _change_capture  # noqa: F401  (registers the feed's session listeners)
from app.changes.router import router as changes_router
from app.conventions.router import router as conventions_router
from app.core import health
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.core.logging import REQUEST_ID_HEADER, configure_logging, is_sane_request_id
from app.core.metrics import install_metrics
from app.exports.router import router as exports_router
from app.indicators.router import router as indicators_router
from app.pathways.router import router as pathways_router
from app.periods.router import router as periods_router
from app.reference.router import router as reference_router

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    app = FastAPI(
        title="Catalogue PDI",
        version="0.1.0",
        description=(
            "The catalogue, conventions, pathways and indicators of a département's "
            "Programme Départemental d'Insertion (PDI). Press **Authorize** and paste an API key."
        ),
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", REQUEST_ID_HEADER],
        )
    if settings.metrics:
        install_metrics(app, scrape_time=[seats_available])
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
        conventions_router,
        pathways_router,
        availability_router,
        exports_router,
        indicators_router,
        periods_router,
        reference_router,
        audit_router,
        changes_router,
    ):
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.router)
    use_docstrings_as_summaries(app)
    return app


def use_docstrings_as_summaries(app: FastAPI) -> None:
    """A route's docstring's first line is its OpenAPI summary (FastAPI would make it the description)."""
    build_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build_openapi()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    summary, _, rest = (operation.get("description") or "").strip().partition("\n")
                    if summary:
                        operation["summary"] = summary.strip()
                        operation["description"] = rest.strip()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


app = create_app()
