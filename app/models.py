"""Every table, imported in one place so that Alembic and the tests see the whole schema. The
change feed's capture is not installed here: whoever makes sessions installs it
(app.outbox.capture.install_feed_capture)."""

from app.assessments.models import ActionAssessment
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, Membership
from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.models import metadata
from app.esf.records.models import FollowUp, PathwayParticipant
from app.outbox.models import Change, FeedClock
from app.pathways.models import ActivityRecord, Beneficiary, Diagnostic, Pathway
from app.periods.models import Period
from app.seats.models import ConventionSeatDay, ConventionSeats
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookOutcomeCount

__all__ = [
    "metadata",
    "AuditEvent",
    "Change",
    "FeedClock",
    "ApiKey",
    "Membership",
    "Action",
    "ActionAssessment",
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
    "ConventionSeatDay",
    "ConventionSeats",
    "Diagnostic",
    "PathwayParticipant",
    "FollowUp",
    "WebhookEndpoint",
    "WebhookDelivery",
    "WebhookOutcomeCount",
]
