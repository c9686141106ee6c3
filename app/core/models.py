"""Columns shared by the tables."""

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from app.core import db as _db  # noqa: F401  (sets the naming convention before any table)
from app.core.time import utcnow


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def updated_at_field() -> datetime:
    return Field(
        default_factory=utcnow,
        sa_column=Column(DateTime(timezone=True), nullable=False, onupdate=utcnow, index=True),
    )
