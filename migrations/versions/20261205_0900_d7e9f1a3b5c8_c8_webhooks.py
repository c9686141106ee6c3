"""Contract 1.2 C8: webhook endpoints, their delivery log, the delivery counters

Revision ID: d7e9f1a3b5c8
Revises: d7a4c2e9f1b6
Create Date: 2026-12-02 06:00:00

- `webhook_endpoint`: an endpoint, the key that owns it (its events are the feed as that key
  reads it), its secrets (Fernet tokens), its progress (`cursor`), its retries and a worker's lease.
- `webhook_delivery`: one row per attempt (the delivery log), dropped with its endpoint.
- `webhook_outcome_count`: attempts by outcome, for /metrics; one row per outcome, made here so
  that workers only ever update them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.models

revision: str = "d7e9f1a3b5c8"
down_revision: str | Sequence[str] | None = "d7a4c2e9f1b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = ("delivered", "http_error", "transport_error", "address_refused")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "webhook_outcome_count",
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("count", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("outcome", name=op.f("pk_webhook_outcome_count")),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_key_id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("secret_encrypted", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("previous_secret_encrypted", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("previous_secret_expires_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failing_since", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("lease_until", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('active', 'disabled')", name=op.f("ck_webhook_endpoint_state")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_webhook_endpoint_attempts")),
        sa.CheckConstraint("cursor >= 0", name=op.f("ck_webhook_endpoint_cursor")),
        sa.ForeignKeyConstraint(
            ["owner_key_id"], ["api_key.id"], name=op.f("fk_webhook_endpoint_owner_key_id_api_key")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoint")),
    )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_endpoint_owner_key_id"), ["owner_key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_endpoint_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("event_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", app.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_webhook_delivery_duration_ms")),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoint.id"],
            name=op.f("fk_webhook_delivery_endpoint_id_webhook_endpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_delivery_attempted_at"), ["attempted_at"], unique=False)
        batch_op.create_index("ix_webhook_delivery_endpoint_id_id", ["endpoint_id", "id"], unique=False)

    counts = sa.table("webhook_outcome_count", sa.column("outcome", sa.String), sa.column("count", sa.Integer))
    op.bulk_insert(counts, [{"outcome": outcome, "count": 0} for outcome in OUTCOMES])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_endpoint_id_id")
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_attempted_at"))

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoint_updated_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_endpoint_owner_key_id"))

    op.drop_table("webhook_endpoint")
    op.drop_table("webhook_outcome_count")
