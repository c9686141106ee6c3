"""The change feed's outbox: one row per entity, at its latest change, in commit order."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, UniqueConstraint, case, cast, null
from sqlmodel import Field, SQLModel

from app.core.models import moment_field
from app.core.time import utcnow

# SQLite's integer primary keys are 64-bit already, and only `INTEGER` is its rowid alias.
Cursor = BigInteger().with_variant(Integer(), "sqlite")


class Change(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("kind", "entity_id"),)

    # Taken in commit order (see app/changes/service.py): a poller that has seen a cursor has
    # seen every change committed before it.
    cursor: int = Field(sa_column=Column(Cursor, primary_key=True, autoincrement=False))
    kind: str = Field(max_length=16)
    # The id the API names the entity by: a family's or an action's code, an assessment's
    # `<action code>/<year>` (hence 80: a 64-character code and a year), other ids as text.
    entity_id: str = Field(max_length=80)
    modified: datetime = moment_field(nullable=False, default_factory=utcnow)
    # A pathway's readers (SPEC roles), copied here so that the feed filters without a join:
    # operator keys read their operator's pathways, portal keys those they created.
    operator_id: int | None = None
    created_by_key_id: int | None = None


def pathway_id_of(kind, entity_id):
    """SQL: the pathway id a feed row names (its entity id as an integer), NULL for other kinds,
    to join the pathways on (the other kinds' ids are codes, which no cast may see)."""
    return case((kind == "pathway", cast(entity_id, Integer)), else_=null())


class FeedClock(SQLModel, table=True):
    """One row: the last cursor given. Committers take it under a row lock, so cursors follow
    the order of commits."""

    __tablename__ = "feed_clock"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_cursor: int = Field(default=0, sa_column=Column(Cursor, nullable=False))
