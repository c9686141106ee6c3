"""Contract 1.1 C2: audited reads carry their details; retention may detach a pathway from its person

Revision ID: b8d2e4f6a1c3
Revises: a3f1c9e2b7d4
Create Date: 2026-12-01 10:00:00

- `audit_event.details`: what a read of personal data asked and got (filters, row counts), or
  what a retention run did; never the data itself.
- `pathway.beneficiary_id` becomes nullable: `pdi retention` detaches old ended pathways from
  their person.
- `pathway.person_key`: who the pathway belongs to for counting distinct persons, the
  beneficiary's id when recorded (filled so for every existing pathway), kept on detachment so
  that every figure stays the same.
- `beneficiary` ids are never reused on SQLite (AUTOINCREMENT), since retention deletes
  beneficiary rows and pathways keep their ids as person keys. PostgreSQL's sequence never
  reuses one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d2e4f6a1c3"
down_revision: str | Sequence[str] | None = "a3f1c9e2b7d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuild_beneficiary_on_sqlite(*, autoincrement: bool) -> None:
    """Copy the table into one declared with(out) AUTOINCREMENT (migrations/env.py turns the
    foreign keys off meanwhile: pathways point to it)."""
    with op.batch_alter_table("beneficiary", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass


def upgrade() -> None:
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))

    with op.batch_alter_table("pathway") as batch_op:
        batch_op.add_column(sa.Column("person_key", sa.Integer(), nullable=True))
    op.execute("UPDATE pathway SET person_key = beneficiary_id")
    with op.batch_alter_table("pathway") as batch_op:
        batch_op.alter_column("person_key", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("beneficiary_id", existing_type=sa.Integer(), nullable=True)

    if _is_sqlite():
        _rebuild_beneficiary_on_sqlite(autoincrement=True)


def downgrade() -> None:
    # Pathways detached by retention cannot be given their person back: they would have no
    # beneficiary, which the schema before this revision cannot hold. Refuse rather than guess.
    detached = op.get_bind().execute(sa.text("SELECT count(*) FROM pathway WHERE beneficiary_id IS NULL")).scalar()
    if detached:
        raise RuntimeError(f"{detached} pathway(s) were detached by retention: this revision cannot be undone")
    if _is_sqlite():
        _rebuild_beneficiary_on_sqlite(autoincrement=False)
    with op.batch_alter_table("pathway") as batch_op:
        batch_op.alter_column("beneficiary_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("person_key")
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_column("details")
