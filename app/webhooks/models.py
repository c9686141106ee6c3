"""Webhook endpoints, their delivery log, and the delivery counters /metrics shows."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, moment_field, updated_at_field
from app.outbox.models import Cursor


class EndpointState(StrEnum):
    active = "active"
    disabled = "disabled"


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (
        CheckConstraint("state IN ('active', 'disabled')", name="state"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("cursor >= 0", name="cursor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The key that created it: its events are the feed as that key reads it.
    owner_key_id: int = Field(sa_column=Column(Integer, ForeignKey("api_key.id"), nullable=False, index=True))
    url: str = Field(max_length=2000)
    # Feed kinds to deliver; null: every kind the owner reads.
    kinds: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    description: str | None = Field(default=None, max_length=500)
    state: str = Field(default=EndpointState.active, sa_type=String(16))
    disabled_reason: str | None = Field(default=None, max_length=200)
    # Fernet tokens (app/webhooks/secrets.py): the worker must sign, so the secret cannot be hashed.
    secret_encrypted: str = Field(max_length=500)
    previous_secret_encrypted: str | None = Field(default=None, max_length=500)
    previous_secret_expires_at: datetime | None = moment_field()
    # Progress: every visible feed item up to this cursor was delivered (or scanned past).
    cursor: int = Field(default=0, sa_column=Column(Cursor, nullable=False))
    # The failures of the event at the head of the queue, and when to try it again.
    attempts: int = 0
    next_attempt_at: datetime | None = moment_field()
    failing_since: datetime | None = moment_field()
    # A worker's claim on the endpoint while it delivers (see app/webhooks/leases.py); once it is
    # given back, `lease_until` is when that turn ended, which orders the next claims (fairness).
    lease_token: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = moment_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event to one endpoint."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_endpoint_id_id", "endpoint_id", "id"),
        CheckConstraint("duration_ms >= 0", name="duration_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), nullable=False)
    )
    # The event: the feed item's cursor, sent as webhook-id.
    event_id: str = Field(max_length=32)
    event_type: str = Field(max_length=40)
    attempt: int
    attempted_at: datetime = moment_field(nullable=False, index=True)
    outcome: str = Field(max_length=20)
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=300)
    duration_ms: int
    next_attempt_at: datetime | None = moment_field()


class WebhookOutcomeCount(SQLModel, table=True):
    """Deliveries by outcome since the database was created: a counter the delivery log's pruning
    does not lower, read by /metrics whichever process delivered."""

    __tablename__ = "webhook_outcome_count"

    outcome: str = Field(primary_key=True, max_length=20)
    count: int = Field(default=0, sa_column=Column(Cursor, nullable=False))
