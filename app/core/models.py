"""Column types and columns shared by the tables."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from app.core import db as _db  # noqa: F401  (sets the naming convention before any table)
from app.core.time import utcnow


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
