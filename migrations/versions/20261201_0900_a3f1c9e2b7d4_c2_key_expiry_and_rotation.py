"""Contract 1.1 C2: API keys expire, remember their last use, and name the key they replaced

Revision ID: a3f1c9e2b7d4
Revises: 63509ea9ce93
Create Date: 2026-12-01 09:00:00

- `expires_at`: refused from then on (null: never); `pdi keys create --expires-in`, and
  `pdi keys rotate` sets it on the old key at the end of its grace period.
- `last_used_at`: written at most once a minute per key.
- `rotated_from_id`: the key a rotated one replaced.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a3f1c9e2b7d4"
down_revision: str | Sequence[str] | None = "63509ea9ce93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_api_key_rotated_from_id_api_key"), "api_key", ["rotated_from_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_key") as batch_op:
        batch_op.drop_constraint(op.f("fk_api_key_rotated_from_id_api_key"), type_="foreignkey")
        batch_op.drop_column("rotated_from_id")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
