"""Every table, imported in one place so that Alembic and the tests see the whole schema, and
the change feed's capture, which watches them in every session (app/changes/capture.py)."""

from app.audit.models import AuditEvent
from app.auth.models import ApiKey
from app.catalogue.models import Action, Family, Operator, Site
from app.changes.models import Change, FeedClock
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.db import metadata
from app.pathways.models import ActivityRecord, Beneficiary, Pathway
from app.periods.models import Period
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookOutcomeCount

__all__ = [
    "metadata",
    "AuditEvent",
    "Change",
    "FeedClock",
    "ApiKey",
    "Action",
    "Family",
    "Operator",
    "Site",
    "Convention",
    "ConventionSite",
    "ConventionYear",
    "Period",
    "ActivityRecord",
    "Beneficiary",
    "Pathway",
    "WebhookEndpoint",
    "WebhookDelivery",
    "WebhookOutcomeCount",
]

import app.changes.capture  # noqa: E402, F401  (registers the session listeners)
