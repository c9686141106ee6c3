"""The availability gauge of GET /metrics: seats available per action today."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlmodel import Session

from app.availability.service import available_seats_by_action
from app.core import time as clock


def seats_available(session: Session) -> Iterator[Metric]:
    """Computed at each scrape, for today in Paris, as GET /availability counts them."""
    gauge = GaugeMetricFamily(
        "pdi_seats_available",
        "Seats available today per action: the sum of `available` over its active conventions",
        labels=["action"],
    )
    for action, seats in sorted(available_seats_by_action(session=session, on=clock.today()).items()):
        gauge.add_metric([action], seats)
    yield gauge
