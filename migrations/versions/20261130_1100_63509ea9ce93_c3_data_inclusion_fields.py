"""Contract 1.1 C3: what the data·inclusion schema needs, stored per action

Revision ID: 63509ea9ce93
Revises: 8d2f4b6a1c37
Create Date: 2026-11-30 17:00:00

Nullable columns (null: not stated): lists of values of the schema's referentials as JSON, and
the single values `type` and `frais` as text. Values are checked on input against the vendored
referentials (app/reference/data_inclusion.json); no CHECK constraint, so that a new version of
the referentials needs no migration. Site coordinates already exist (initial schema).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "63509ea9ce93"
down_revision: str | Sequence[str] | None = "8d2f4b6a1c37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



def columns() -> list[sa.Column]:
    return [
        sa.Column("thematiques", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("publics", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("frais", sa.String(length=16), nullable=True),
        sa.Column("modes_accueil", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("modes_mobilisation", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("mobilisable_par", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("zone_eligibilite", sa.JSON(none_as_null=True), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("action") as batch:
        for column in columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("action") as batch:
        for column in reversed(columns()):
            batch.drop_column(column.name)
