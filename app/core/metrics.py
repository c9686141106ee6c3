"""GET /metrics in Prometheus' text format: requests by route template, the database pool, and
gauges that domains compute when Prometheus scrapes (seats available per action).

Each application keeps its counters in its own registry, in the memory of its process: with
several worker processes a scrape sees the counts of the worker that answered (docs/OPERATIONS.md, "Observability").
"""

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as request_metrics
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from app.core.db import SessionDep
from app.core.engines import get_engine

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# Label values for requests that matched no route (404s, trailing-slash redirects) and for
# unusual methods: a label never carries what a client typed, which could be anything.
NO_ROUTE = "none"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# The per-route latency histogram's buckets (seconds): fine enough for a p95 under 100 ms and for
# the heavy reads' seconds alike, few enough for a label per route template.
ROUTE_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# A domain's gauges, computed at scrape time from the database.
ScrapeTimeMetrics = Callable[[Session], Iterable[Metric]]


def install_metrics(app: FastAPI, *, scrape_time: Sequence[ScrapeTimeMetrics] = ()) -> None:
    """Count every request by route template, method and status, and serve GET /metrics
    (outside /api/v1 and the OpenAPI document)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    instrumentator = Instrumentator(
        registry=registry,
        should_group_status_codes=False,  # 401, 404, 409 and 503 say different things
        excluded_handlers=[f"^{METRICS_PATH}$"],  # Prometheus' own scrapes
    )
    instrumentator.add(
        _by_route_template(request_metrics.default(registry=registry, latency_lowr_buckets=ROUTE_LATENCY_BUCKETS))
    )
    instrumentator.instrument(app)

    @app.get(METRICS_PATH, include_in_schema=False)
    def metrics(session: SessionDep, engine: Annotated[Engine, Depends(get_engine)]) -> Response:
        # The pool is read first, so that this scrape's own connection is not counted in it.
        families = [*pool_usage(engine), *_scrape_time_families(session, scrape_time)]
        return Response(generate_latest(_Scrape(registry, families)), media_type=CONTENT_TYPE_LATEST)


def _by_route_template(record: Callable) -> Callable:
    """Label a request by the template of its route (`/api/v1/pathways/{pathway_id}`), as the
    library resolves it, but only when a route did serve it: for a path that only a trailing-slash
    redirect would match, the library falls back to the raw path, which would put ids (or anything
    a client types) in a label. The router notes the route that served a request in the scope: its
    `route` for the API's routes, its `endpoint` for Starlette's own (/openapi.json, /docs)."""

    def instrumentation(info: request_metrics.Info) -> None:
        scope = info.request.scope
        if scope.get("route") is None and scope.get("endpoint") is None:
            info.modified_handler = NO_ROUTE
        if info.method not in KNOWN_METHODS:
            info.method = "other"
        record(info)

    return instrumentation


def pool_usage(engine: Engine) -> list[Metric]:
    """The engine's connection pool now: its size, the connections in use, those opened beyond it."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):  # an in-memory SQLite's single connection has no size to show
        return []
    return [
        GaugeMetricFamily("pdi_db_pool_size", "Connections the database pool keeps open", value=pool.size()),
        GaugeMetricFamily(
            "pdi_db_pool_checked_out", "Database connections in use by requests now", value=pool.checkedout()
        ),
        # QueuePool's overflow() is negative while fewer connections than its size are open.
        GaugeMetricFamily(
            "pdi_db_pool_overflow",
            "Database connections open beyond the pool's size now",
            value=max(0, pool.overflow()),
        ),
    ]


def _scrape_time_families(session: Session, scrape_time: Sequence[ScrapeTimeMetrics]) -> list[Metric]:
    families: list[Metric] = []
    try:
        for compute in scrape_time:
            families.extend(compute(session))
    except SQLAlchemyError as exc:
        # The request counters matter most when the database is down: serve them without these.
        session.rollback()
        log.warning("metrics computed from the database left out: %s", type(exc).__name__)
        return []
    return families


class _Scrape:
    """What one scrape shows: the counters kept since the start, then the gauges read now."""

    def __init__(self, registry: CollectorRegistry, families: list[Metric]):
        self.registry = registry
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.families
