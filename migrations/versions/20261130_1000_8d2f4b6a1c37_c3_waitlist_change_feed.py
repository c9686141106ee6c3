"""Contract 1.1 C3: the waiting list, the change feed's outbox, indexes for availability

Revision ID: 8d2f4b6a1c37
Revises: 5c1e0a7d9b21
Create Date: 2026-11-30 16:30:00

- pathway.waitlisted: a prescription waiting for a seat (only while neither entered nor cancelled);
- indexes that keep availability's count to the pathways open or closed after the day asked;
- the change feed: `change` (one row per entity, at its latest cursor) and `feed_clock` (the
  last cursor given), filled with one row per entity that exists today, so that replaying the
  feed from the start gives the whole current state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2f4b6a1c37"
down_revision: str | Sequence[str] | None = "5c1e0a7d9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURSOR = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "exited_on IS NULL AND cancelled_on IS NULL"

# What exists today, in the order of the cursors given to it: (kind, SELECT of its id and readers).
EXISTING = [
    ("family", "SELECT code AS entity_id, CAST(NULL AS INTEGER) AS operator_id, CAST(NULL AS INTEGER) AS created_by_key_id, 1 AS o, id FROM family"),
    ("action", "SELECT code, CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), 2, id FROM action"),
    ("operator", "SELECT CAST(id AS VARCHAR(64)), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), 3, id FROM operator"),
    ("site", "SELECT CAST(id AS VARCHAR(64)), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), 4, id FROM site"),
    ("convention", "SELECT CAST(id AS VARCHAR(64)), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), 5, id FROM convention"),
    ("availability", "SELECT CAST(id AS VARCHAR(64)), CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), 6, id FROM convention"),
    (
        "pathway",
        "SELECT CAST(p.id AS VARCHAR(64)), c.operator_id, p.created_by_key_id, 7, p.id "
        "FROM pathway p JOIN convention c ON c.id = p.convention_id",
    ),
]


def upgrade() -> None:
    with op.batch_alter_table("pathway") as batch_op:
        batch_op.add_column(sa.Column("waitlisted", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_pathway_waitlisted_prescriptions_only"),
            "NOT waitlisted OR (entered_on IS NULL AND cancelled_on IS NULL)",
        )
        batch_op.create_index(
            "ix_pathway_open_convention_id",
            ["convention_id"],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index("ix_pathway_convention_id_exited_on", ["convention_id", "exited_on"], unique=False)
        batch_op.create_index("ix_pathway_convention_id_cancelled_on", ["convention_id", "cancelled_on"], unique=False)

    op.create_table(
        "change",
        sa.Column("cursor", CURSOR, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("created_by_key_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("cursor", name=op.f("pk_change")),
        sa.UniqueConstraint("kind", "entity_id", name=op.f("uq_change_kind_entity_id")),
    )
    op.create_table(
        "feed_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_cursor", CURSOR, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_clock")),
    )
    existing = " UNION ALL ".join(f"SELECT '{kind}' AS kind, e.* FROM ({query}) e" for kind, query in EXISTING)
    op.execute(
        "INSERT INTO change (cursor, kind, entity_id, modified, operator_id, created_by_key_id) "
        "SELECT ROW_NUMBER() OVER (ORDER BY o, id), kind, entity_id, CURRENT_TIMESTAMP, operator_id, created_by_key_id "
        f"FROM ({existing}) existing"
    )
    op.execute("INSERT INTO feed_clock (id, last_cursor) SELECT 1, COALESCE(MAX(cursor), 0) FROM change")


def downgrade() -> None:
    op.drop_table("feed_clock")
    op.drop_table("change")
    with op.batch_alter_table("pathway") as batch_op:
        batch_op.drop_index("ix_pathway_convention_id_cancelled_on")
        batch_op.drop_index("ix_pathway_convention_id_exited_on")
        batch_op.drop_index("ix_pathway_open_convention_id", postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_constraint(op.f("ck_pathway_waitlisted_prescriptions_only"), type_="check")
        batch_op.drop_column("waitlisted")
