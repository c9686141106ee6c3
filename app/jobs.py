"""Every periodic job of the service, in one list; the timer that runs them is app/core/periodic.py."""

from datetime import timedelta

from app.core.config import Settings
from app.core.periodic import PeriodicJob
from app.pathways.expiry import expire_prescriptions
from app.webhooks.service import prune_delivery_log


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    """What the worker runs on a timer, each in its own writer transaction. Every job must be
    idempotent: each worker process keeps its own timer, so two workers may both run one.
    """
    return [
        # Unanswered prescriptions expire without any request (SPEC C7): a second worker running
        # it at once finds nothing left to expire (it locks the seat counters first).
        PeriodicJob(
            "expire_prescriptions",
            timedelta(hours=1),
            lambda session, today: expire_prescriptions(session=session, today=today),
        ),
        PeriodicJob(
            "prune_delivery_log",
            timedelta(hours=1),
            lambda session, today: prune_delivery_log(session, today, keep_days=settings.webhook_log_days),
        ),
    ]
