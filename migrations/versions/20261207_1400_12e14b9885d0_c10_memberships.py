"""C10: people, not only keys (memberships; the audit names people)

Revision ID: 12e14b9885d0
Revises: f3b7d1a9c5e2
Create Date: 2026-12-07 14:00:00

- `membership`: who of the identity provider's people holds which role (app/auth/models.py),
  each with an owner key (a key row no one holds) under which its people's creations are recorded.
- `audit_event` gains `actor_kind` (key, person, cli), `subject` and `client_id`; the events
  written before are a key's, or the command line's when they name no key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.core.models

revision: str = "12e14b9885d0"
down_revision: str | Sequence[str] | None = "f3b7d1a9c5e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_kind", sa.String(length=8), nullable=False),
        sa.Column("match_value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", app.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"], name=op.f("fk_membership_operator_id_operator")),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], name=op.f("fk_membership_api_key_id_api_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("match_kind", "match_value", name=op.f("uq_membership_match_kind_match_value")),
        sa.UniqueConstraint("api_key_id", name=op.f("uq_membership_api_key_id")),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_operator_id"), ["operator_id"], unique=False)

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_kind", sa.String(length=8), nullable=False, server_default="key"))
        batch_op.add_column(sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_event_subject"), ["subject"], unique=False)
    op.execute("UPDATE audit_event SET actor_kind = 'cli' WHERE api_key_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_subject"))
        batch_op.drop_column("client_id")
        batch_op.drop_column("subject")
        batch_op.drop_column("actor_kind")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_operator_id"))
    op.drop_table("membership")
