"""/metrics: deliveries by outcome (counted in the database, so whichever worker delivered) and
the webhooks' lag, the age of the oldest event an active endpoint has yet to receive."""

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func
from sqlmodel import Session, select

from app.auth.models import ApiKey, Role
from app.changes.service import feed_filter
from app.core.caller import Caller
from app.core.time import utcnow
from app.outbox.models import Change
from app.webhooks.models import EndpointState, WebhookEndpoint, WebhookOutcomeCount

OUTCOMES = ("delivered", "http_error", "transport_error", "address_refused")


def webhook_metrics(session: Session) -> Iterable[Metric]:
    counts = dict(session.exec(select(WebhookOutcomeCount.outcome, WebhookOutcomeCount.count)).all())
    deliveries = CounterMetricFamily(
        "pdi_webhook_deliveries", "Webhook delivery attempts by outcome", labels=["outcome"]
    )
    for outcome in OUTCOMES:
        deliveries.add_metric([outcome], counts.get(outcome, 0))
    # One figure for all endpoints: /metrics is read by whoever reaches it, and a series per
    # endpoint would tell them how many endpoints there are and how each receiver fares.
    lag = GaugeMetricFamily(
        "pdi_webhook_lag_seconds",
        "Age of the oldest undelivered event over every active endpoint (0 when all are up to date)",
    )
    now = utcnow()
    rows = session.exec(
        select(WebhookEndpoint, ApiKey)
        .join(ApiKey, ApiKey.id == WebhookEndpoint.owner_key_id)
        .where(WebhookEndpoint.state == EndpointState.active)
        .order_by(WebhookEndpoint.id)
    ).all()
    oldest_of_all = None
    for endpoint, owner in rows:
        caller = Caller(key_id=owner.id, name=owner.name, role=Role(owner.role), operator_id=owner.operator_id)
        oldest = session.exec(
            select(func.min(Change.modified)).where(
                feed_filter(caller=caller, after=endpoint.cursor, kinds=endpoint.kinds)
            )
        ).one()
        if oldest is not None and (oldest_of_all is None or oldest < oldest_of_all):
            oldest_of_all = oldest
    lag.add_metric([], max(0.0, (now - oldest_of_all).total_seconds()) if oldest_of_all else 0.0)
    return [deliveries, lag]
