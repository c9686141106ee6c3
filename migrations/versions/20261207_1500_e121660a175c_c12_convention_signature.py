"""C12: a convention's signature (SCDL subventions), a site's data·inclusion structure id

Revision ID: e121660a175c
Revises: a10c6f226777
Create Date: 2026-12-07 14:00:00

- `convention.signed_on` (date): the day the convention was signed; null where it is not known
  (the seed's document gives none). A convention year whose convention has no signature date
  is left out of GET /exports/scdl/subventions.
- `convention.decision_reference` (text): the reference of the assembly's decision, optional.

- `site.data_inclusion_id` (text, unique): the id of the data·inclusion structure a site was
  imported from (POST /imports/data-inclusion/structures matches sites by it); null otherwise.

All nullable: existing rows keep their values, ADD COLUMN on both databases.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e121660a175c"
down_revision: str | Sequence[str] | None = "a10c6f226777"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("convention", sa.Column("signed_on", sa.Date(), nullable=True))
    op.add_column("convention", sa.Column("decision_reference", sa.String(length=256), nullable=True))
    op.add_column("site", sa.Column("data_inclusion_id", sa.String(length=200), nullable=True))
    op.create_index("ix_site_data_inclusion_id", "site", ["data_inclusion_id"], unique=True)


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no table copy, which would lose nothing here either).
    op.drop_index("ix_site_data_inclusion_id", table_name="site")
    op.drop_column("site", "data_inclusion_id")
    op.drop_column("convention", "decision_reference")
    op.drop_column("convention", "signed_on")
