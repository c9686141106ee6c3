"""Conventions (one operator × one action funding agreement) and their yearly lines."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Numeric, String, UniqueConstraint, and_
from sqlmodel import Field, SQLModel

from app.catalogue.models import WEEKLY_HOURS_CHECK
from app.core.models import created_at_field, updated_at_field


class ConventionStatus(StrEnum):
    draft = "draft"
    active = "active"
    ended = "ended"
    cancelled = "cancelled"


class BudgetKind(StrEnum):
    forecast = "forecast"
    agreed = "agreed"


class Convention(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("start_on <= end_on", name="dates_in_order"),
        CheckConstraint(
            f"status IN ({', '.join(repr(status.value) for status in ConventionStatus)})", name="status_known"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=64, unique=True)
    action_id: int = Field(foreign_key="action.id", index=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    start_on: date
    end_on: date
    status: ConventionStatus = Field(default=ConventionStatus.active, sa_type=String(16))
    # The signature and the assembly's decision (SPEC C12: the SCDL subventions export); null
    # when not known.
    signed_on: date | None = None
    decision_reference: str | None = Field(default=None, max_length=256)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ConventionSite(SQLModel, table=True):
    """The sites where a convention's action is delivered."""

    __tablename__ = "convention_site"

    convention_id: int = Field(foreign_key="convention.id", primary_key=True)
    site_id: int = Field(foreign_key="site.id", primary_key=True, index=True)


class ConventionYear(SQLModel, table=True):
    __tablename__ = "convention_year"
    __table_args__ = (
        UniqueConstraint("convention_id", "year"),
        CheckConstraint("places IS NULL OR places >= 0", name="places_not_negative"),
        CheckConstraint("months_per_place BETWEEN 1 AND 12", name="months_per_place_in_year"),
        CheckConstraint("budget IS NULL OR budget >= 0", name="budget_not_negative"),
        CheckConstraint(
            "fse_amount IS NULL OR (fse_amount >= 0 AND budget IS NOT NULL AND fse_amount <= budget)",
            name="fse_within_budget",
        ),
        CheckConstraint("hours_threshold IS NULL OR hours_threshold >= 0", name="hours_threshold_not_negative"),
        CheckConstraint("budget_kind IN ('forecast', 'agreed')", name="budget_kind_known"),
        CheckConstraint(WEEKLY_HOURS_CHECK, name="weekly_hours_in_week"),
    )

    id: int | None = Field(default=None, primary_key=True)
    convention_id: int = Field(foreign_key="convention.id", index=True)
    year: int
    places: int | None = None  # null when the line is funded by budget only
    # Months of support planned per place over the year: 12 for a seat open all year, 1 for
    # a one-month pathway. Occupancy and capacity are counted against places × this / 12.
    months_per_place: int = 12
    budget: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    budget_kind: BudgetKind = Field(default=BudgetKind.agreed, sa_type=String(16))
    fse_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 2)))
    hours_threshold: int | None = None
    targets: dict[str, float] | None = Field(default=None, sa_column=Column(JSON))
    # This year's hours a week (SPEC C11); null: the action's.
    weekly_hours: float | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


def running_on(on: date):
    """The condition that a convention runs on `on`: active, and `on` within its dates (what
    availability lists, and what the feed's availability items follow)."""
    return and_(
        Convention.status == ConventionStatus.active.value,
        Convention.start_on <= on,
        Convention.end_on >= on,
    )
