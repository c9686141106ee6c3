"""Beneficiaries (pseudonymised), their pathways in conventions, and operators' activity counters."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from app.catalogue.models import Territory
from app.core.models import created_at_field, updated_at_field


class Sex(StrEnum):
    F = "F"
    M = "M"
    X = "X"


class Household(StrEnum):
    single_no_child = "single_no_child"
    single_with_children = "single_with_children"
    couple_no_child = "couple_no_child"
    couple_with_children = "couple_with_children"


class PathwayStatus(StrEnum):
    prescribed = "prescribed"
    active = "active"
    exited = "exited"
    cancelled = "cancelled"


class ActivityMetric(StrEnum):
    vehicle_rental_days = "vehicle_rental_days"
    licence_registrations = "licence_registrations"
    licences_obtained = "licences_obtained"
    computers_donated = "computers_donated"
    workshop_sessions = "workshop_sessions"


class Beneficiary(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # HMAC-SHA256 of the person's file number under the server secret; the number itself is
    # never stored.
    ref_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    birth_year: int | None = None
    sex: Sex | None = Field(default=None, sa_type=String(1))
    insee_code: str | None = Field(default=None, max_length=5)
    territory: Territory | None = Field(default=None, sa_type=String(8), index=True)
    household: Household | None = Field(default=None, sa_type=String(32))
    self_employed: bool | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Pathway(SQLModel, table=True):
    __table_args__ = (
        Index("ix_pathway_convention_id_beneficiary_id", "convention_id", "beneficiary_id"),
        Index("ix_pathway_convention_id_entered_on", "convention_id", "entered_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    convention_id: int = Field(foreign_key="convention.id")
    beneficiary_id: int = Field(foreign_key="beneficiary.id", index=True)
    site_id: int | None = Field(default=None, foreign_key="site.id")
    prescribed_on: date
    entered_on: date | None = None
    planned_end_on: date | None = None
    exited_on: date | None = None
    exit_reason: str | None = Field(default=None, max_length=32)
    hours: float | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    # The key that created it: a portal key reads back only its own prescriptions.
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    @property
    def status(self) -> PathwayStatus:
        if self.cancelled_on is not None:
            return PathwayStatus.cancelled
        if self.exited_on is not None:
            return PathwayStatus.exited
        if self.entered_on is not None:
            return PathwayStatus.active
        return PathwayStatus.prescribed


class ActivityRecord(SQLModel, table=True):
    __tablename__ = "activity_record"
    __table_args__ = (Index("ix_activity_record_convention_id_recorded_on", "convention_id", "recorded_on"),)

    id: int | None = Field(default=None, primary_key=True)
    convention_id: int = Field(foreign_key="convention.id")
    # `on` in the API; a reserved word in SQL, hence the column name.
    recorded_on: date
    metric: ActivityMetric = Field(sa_type=String(32))
    quantity: int
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    created_at: datetime = created_at_field()
