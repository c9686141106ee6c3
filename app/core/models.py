"""What the tables share: the metadata's naming convention, column types and columns."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.core.time import utcnow

# Named constraints: Alembic needs names to drop them, and SQLite's batch mode to rebuild tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and read back as an aware UTC datetime, on both databases.

    SQLite keeps no offset: without this, a value with `+01:00` would be stored (and compared)
    by its wall-clock time, an hour off. Every value is turned into UTC on its way in, so a
    filter written with any ISO 8601 offset means that instant; a naive value is taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


def updated_at_field() -> datetime:
    return Field(
        default_factory=utcnow,
        sa_column=Column(UTCDateTime(), nullable=False, onupdate=utcnow, index=True),
    )


def moment_field(*, nullable: bool = True, index: bool = False, default_factory=None) -> datetime:
    """Any other timestamp column (consolidated_at, revoked_at, an audit event's time…)."""
    column = Column(UTCDateTime(), nullable=nullable, index=index)
    if default_factory is not None:
        return Field(default_factory=default_factory, sa_column=column)
    return Field(default=None, sa_column=column)
