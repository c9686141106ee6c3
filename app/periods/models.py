"""Periods: a calendar year is open until the département consolidates its figures."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.models import moment_field


class PeriodStatus(StrEnum):
    open = "open"
    consolidated = "consolidated"


class Period(SQLModel, table=True):
    # A year without a row is open.
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    status: PeriodStatus = Field(default=PeriodStatus.open, sa_type=String(16))
    consolidated_at: datetime | None = moment_field()
    consolidated_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
