"""Families (axes), actions, operators and their sites."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, updated_at_field

# Hours of activity a week (SPEC C11), on an action, a convention year or a pathway.
WEEKLY_HOURS_CHECK = "weekly_hours IS NULL OR (weekly_hours >= 0 AND weekly_hours <= 60)"


class ActionFormat(StrEnum):
    individual = "individual"
    collective = "collective"
    mixed = "mixed"


class Territory(StrEnum):
    urban = "urban"
    rural = "rural"


class Family(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    position: int = 0
    description: str | None = Field(default=None, max_length=5000)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Action(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(
            "min_duration_months IS NULL OR max_duration_months IS NULL OR min_duration_months <= max_duration_months",
            name="durations_in_order",
        ),
        CheckConstraint(WEEKLY_HOURS_CHECK, name="weekly_hours_in_week"),
        CheckConstraint("duration_weeks IS NULL OR duration_weeks >= 1", name="duration_weeks_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    number: int = Field(unique=True)
    family_id: int = Field(foreign_key="family.id", index=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    target_public: str | None = Field(default=None, max_length=2000)
    min_duration_months: int | None = None
    max_duration_months: int | None = None
    format: ActionFormat | None = Field(default=None, sa_type=String(16))
    # Typical hours of activity a week and typical length (SPEC C11); null when unknown.
    weekly_hours: float | None = None
    duration_weeks: int | None = None
    # Ordered indicator codes of the action's bilan table, as the document shows them.
    indicators: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What the data·inclusion schema says of a service (GET /exports/data-inclusion/services),
    # values of its referentials (app/reference/data_inclusion.py), checked on input; null when
    # not stated. No CHECK constraint on them: a new version of the referentials must not need
    # a migration.
    thematiques: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    type: str | None = Field(default=None, max_length=32)
    publics: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    frais: str | None = Field(default=None, max_length=16)
    modes_accueil: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    modes_mobilisation: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    mobilisable_par: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    zone_eligibilite: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Operator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    legal_form: str | None = Field(default=None, max_length=100)
    siret: str | None = Field(default=None, max_length=14, unique=True)
    address: str | None = Field(default=None, max_length=300)
    postcode: str | None = Field(default=None, max_length=10)
    commune: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    website: str | None = Field(default=None, max_length=300)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Site(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("territory IS NULL OR territory IN ('urban', 'rural')", name="territory_known"),
        CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL) AND (latitude IS NULL OR latitude BETWEEN -90 AND 90)"
            " AND (longitude IS NULL OR longitude BETWEEN -180 AND 180)",
            name="coordinates_valid",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    name: str = Field(max_length=200)
    address: str | None = Field(default=None, max_length=300)
    postcode: str | None = Field(default=None, max_length=10)
    commune: str = Field(max_length=100)
    insee_code: str | None = Field(default=None, max_length=5)
    territory: Territory | None = Field(default=None, sa_type=String(8))
    latitude: float | None = None
    longitude: float | None = None
    # The data·inclusion structure this site was imported from (POST /imports/data-inclusion/structures).
    data_inclusion_id: str | None = Field(default=None, max_length=200, unique=True, index=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
