"""Beneficiaries (pseudonymised), their pathways in conventions, and operators' activity counters."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, false, text
from sqlmodel import Field, SQLModel

from app.catalogue.models import Territory
from app.core.models import created_at_field, moment_field, updated_at_field


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
    # A prescription that found no free seat: it waits for one, in order of arrival (SPEC C3).
    waitlisted = "waitlisted"
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
    """A person, as a pseudonym only: what is known of them is recorded on each pathway."""

    # Ids are never reused (SQLite would reuse the highest after `pdi retention` deletes it):
    # pathways keep a forgotten person's id as their person key.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    # HMAC-SHA256 of the person's file number under the server secret; the number itself is
    # never stored.
    ref_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


def _beneficiary_id_of_the_row(context) -> int:
    # Inserts that name no person key (bulk loads, test factories) take the beneficiary's id.
    return context.get_current_parameters()["beneficiary_id"]


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(value.value) for value in values)})"


# A pathway still running (entered or not), and one still waiting for its entry.
OPEN = "exited_on IS NULL AND cancelled_on IS NULL"
PENDING = "entered_on IS NULL AND exited_on IS NULL AND cancelled_on IS NULL"


class Pathway(SQLModel, table=True):
    __table_args__ = (
        Index("ix_pathway_convention_id_beneficiary_id", "convention_id", "beneficiary_id"),
        Index("ix_pathway_convention_id_entered_on", "convention_id", "entered_on"),
        # The rules on input that can be stated on one row (app/pathways/service.py checks them
        # first, with clear messages; these guard every other way in: scripts, the demo loader).
        CheckConstraint("entered_on IS NULL OR entered_on >= prescribed_on", name="entry_after_prescription"),
        CheckConstraint(
            "exited_on IS NULL OR (entered_on IS NOT NULL AND exited_on >= entered_on)", name="exit_after_entry"
        ),
        CheckConstraint("(exited_on IS NULL) = (exit_reason IS NULL)", name="exit_reason_with_exit"),
        CheckConstraint(
            "cancelled_on IS NULL OR (entered_on IS NULL AND cancelled_on >= prescribed_on)",
            name="cancelled_before_entry",
        ),
        CheckConstraint(
            "planned_end_on IS NULL OR planned_end_on >= COALESCE(entered_on, prescribed_on)",
            name="planned_end_after_start",
        ),
        CheckConstraint("hours IS NULL OR hours >= 0", name="hours_not_negative"),
        CheckConstraint("birth_year IS NULL OR birth_year >= 1900", name="birth_year_plausible"),
        CheckConstraint(_one_of("sex", Sex), name="sex_known"),
        CheckConstraint(_one_of("territory", Territory), name="territory_known"),
        CheckConstraint(_one_of("household", Household), name="household_known"),
        CheckConstraint(
            "NOT waitlisted OR (entered_on IS NULL AND cancelled_on IS NULL)", name="waitlisted_prescriptions_only"
        ),
        # Availability reads the seat counters (ConventionSeats), then corrects them with the
        # pathways whose place on the day asked for differs from their place now: closed since
        # that day, or dated after it. These keep that to the few rows that matter, however long
        # the history (app/pathways/seats.py).
        Index("ix_pathway_convention_id_exited_on", "convention_id", "exited_on"),
        Index("ix_pathway_convention_id_cancelled_on", "convention_id", "cancelled_on"),
        Index(
            "ix_pathway_pending_convention_id_prescribed_on",
            "convention_id",
            "prescribed_on",
            postgresql_where=text(PENDING),
            sqlite_where=text(PENDING),
        ),
        # The next planned end among the open pathways: one index probe per convention.
        Index(
            "ix_pathway_open_convention_id_planned_end_on",
            "convention_id",
            "planned_end_on",
            postgresql_where=text(OPEN),
            sqlite_where=text(OPEN),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    convention_id: int = Field(foreign_key="convention.id")
    # The person, by their pseudonym; null once `pdi retention` has detached the pathway.
    beneficiary_id: int | None = Field(default=None, foreign_key="beneficiary.id", index=True)
    # Who the pathway belongs to, for counting distinct persons: the beneficiary's id when it
    # was recorded, and kept when retention detaches it, so that every figure stays the same.
    # Never returned, and meaningless without the beneficiary row, which retention deletes
    # once none of the person's pathways points to it.
    person_key: int = Field(sa_column=Column(Integer, nullable=False, default=_beneficiary_id_of_the_row))
    site_id: int | None = Field(default=None, foreign_key="site.id")
    prescribed_on: date
    entered_on: date | None = None
    planned_end_on: date | None = None
    exited_on: date | None = None
    exit_reason: str | None = Field(default=None, max_length=32)
    hours: float | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    waitlisted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The key that created it: a portal key reads back only its own prescriptions.
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    # The person's characteristics as recorded with this pathway (as the ESF+ records them at
    # entry): no other pathway's write can change them.
    birth_year: int | None = None
    sex: Sex | None = Field(default=None, sa_type=String(1))
    insee_code: str | None = Field(default=None, max_length=5)
    territory: Territory | None = Field(default=None, sa_type=String(8))
    household: Household | None = Field(default=None, sa_type=String(32))
    self_employed: bool | None = None
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
        if self.waitlisted:
            return PathwayStatus.waitlisted
        return PathwayStatus.prescribed


class ActivityRecord(SQLModel, table=True):
    __tablename__ = "activity_record"
    __table_args__ = (
        Index("ix_activity_record_convention_id_recorded_on", "convention_id", "recorded_on"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    convention_id: int = Field(foreign_key="convention.id")
    # `on` in the API; a reserved word in SQL, hence the column name.
    recorded_on: date
    metric: ActivityMetric = Field(sa_type=String(32))
    quantity: int
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    created_at: datetime = created_at_field()


class ConventionSeats(SQLModel, table=True):
    """A convention's seats as its open pathways take them now, kept by the database itself.

    Triggers on `pathway` (migration c5d1e3a7f9b2) add each write's difference in the same
    statement, and one on `convention` gives every convention its row: no code path can forget
    them, bulk statements and COPY included. Availability reads these instead of counting
    pathways, so it costs the same however many there are (app/pathways/seats.py); locking a
    convention's row is how seat decisions serialise, and every pathway write that moves a seat
    takes the same lock through the triggers.

    - occupied: open pathways entered;
    - reserved: open pathways not entered and not on the waiting list;
    - waitlisted: pathways on the waiting list;
    - updated_at: the `updated_at` of the last pathway write that changed these counts.
    """

    __tablename__ = "convention_seats"

    convention_id: int = Field(
        sa_column=Column(Integer, ForeignKey("convention.id", ondelete="CASCADE"), primary_key=True)
    )
    occupied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reserved: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    waitlisted: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime | None = moment_field()
