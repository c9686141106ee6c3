"""Beneficiaries (pseudonymised), their pathways in conventions, and operators' activity counters."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, ForeignKey, Index, Integer, String, false, text
from sqlmodel import Field, SQLModel

from app.catalogue.models import WEEKLY_HOURS_CHECK, Territory
from app.core.models import created_at_field, moment_field, updated_at_field
from app.reference.diagnostic_dimensions import DIMENSION_CODES, MARKS
from app.reference.refusal_reasons import REFUSAL_REASON_CODES
from app.seats import states


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
    # A prescription that ended without an entry otherwise than by a cancellation (SPEC C7).
    refused = "refused"
    withdrawn = "withdrawn"
    expired = "expired"


class Decision(StrEnum):
    """The operator's answer to a prescription (SPEC C7); `pending` is a read-only state."""

    pending = "pending"
    accepted = "accepted"
    refused = "refused"


class EndedAs(StrEnum):
    """How a prescription that ended before any entry ended, when not by a cancellation: its
    `cancelled_on` is the day it ended whatever ended it, so every rule, index, trigger and
    indicator that knows an ended prescription by `cancelled_on` holds for these too."""

    refused = "refused"
    withdrawn = "withdrawn"
    expired = "expired"


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


def _one_of(column: str, values) -> str:
    codes = [getattr(value, "value", value) for value in values]
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(code) for code in codes)})"


# A prescription still waiting for its entry.
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
        CheckConstraint(WEEKLY_HOURS_CHECK, name="weekly_hours_in_week"),
        CheckConstraint("birth_year IS NULL OR birth_year >= 1900", name="birth_year_plausible"),
        CheckConstraint(_one_of("sex", Sex), name="sex_known"),
        CheckConstraint(_one_of("territory", Territory), name="territory_known"),
        CheckConstraint(_one_of("household", Household), name="household_known"),
        CheckConstraint(
            "NOT waitlisted OR (entered_on IS NULL AND cancelled_on IS NULL)", name="waitlisted_prescriptions_only"
        ),
        # The operator's answer (SPEC C7): a decision has its day, a refusal its reason, an
        # appointment follows an acceptance; a refusal ends the prescription on its day.
        CheckConstraint("decision IS NULL OR decision IN ('accepted', 'refused')", name="decision_known"),
        CheckConstraint("(decision IS NULL) = (decided_on IS NULL)", name="decision_with_its_day"),
        CheckConstraint("decided_on IS NULL OR decided_on >= prescribed_on", name="decided_after_prescription"),
        CheckConstraint(
            "(COALESCE(decision, '') = 'refused') = (refusal_reason IS NOT NULL)", name="refusal_reason_with_refusal"
        ),
        CheckConstraint(_one_of("refusal_reason", REFUSAL_REASON_CODES), name="refusal_reason_known"),
        CheckConstraint(
            "refusal_comment IS NULL OR COALESCE(decision, '') = 'refused'", name="refusal_comment_with_refusal"
        ),
        CheckConstraint(
            "appointment_on IS NULL OR (COALESCE(decision, '') = 'accepted' AND appointment_on >= decided_on)",
            name="appointment_after_acceptance",
        ),
        CheckConstraint(_one_of("ended_as", EndedAs), name="ended_as_known"),
        CheckConstraint("ended_as IS NULL OR cancelled_on IS NOT NULL", name="ended_as_with_its_day"),
        CheckConstraint(
            "(COALESCE(ended_as, '') = 'refused') = (COALESCE(decision, '') = 'refused')",
            name="refused_ends_the_prescription",
        ),
        CheckConstraint(
            "COALESCE(ended_as, '') <> 'refused' OR cancelled_on = decided_on", name="refused_on_its_decision_day"
        ),
        # Dated ranges of one convention's pathways: by exit, by end without entry, pending by
        # prescription. Availability no longer reads them (app/availability/counts.py); kept for the
        # other readers of such ranges until a measured change says otherwise.
        Index("ix_pathway_convention_id_exited_on", "convention_id", "exited_on"),
        Index("ix_pathway_convention_id_cancelled_on", "convention_id", "cancelled_on"),
        Index(
            "ix_pathway_pending_convention_id_prescribed_on",
            "convention_id",
            "prescribed_on",
            postgresql_where=text(PENDING),
            sqlite_where=text(PENDING),
        ),
        # The next planned end among the pathways present on a day, past or not: one probe per
        # convention from that day on (app/availability/counts.py).
        Index("ix_pathway_convention_id_planned_end_on", "convention_id", "planned_end_on"),
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
    # The person's own hours a week (SPEC C11); null: the convention year's, else the action's
    # (app/pathways/weekly_hours.py).
    weekly_hours: float | None = None
    cancelled_on: date | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    waitlisted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # The operator's answer (SPEC C7): accepted or refused on `decided_on`; null while none.
    decision: str | None = Field(default=None, max_length=8)
    decided_on: date | None = None
    appointment_on: date | None = None
    refusal_reason: str | None = Field(default=None, max_length=32)
    refusal_comment: str | None = Field(default=None, max_length=500)
    # How an ended prescription ended when not by a cancellation (EndedAs); null otherwise.
    ended_as: str | None = Field(default=None, max_length=16)
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
        # Ended first (how it ended), then what it takes of the seats now, as app/seats/states.py
        # defines it for the counters' triggers too (tests/seats/test_states.py holds them equal).
        if self.cancelled_on is not None:
            return PathwayStatus(self.ended_as) if self.ended_as else PathwayStatus.cancelled
        if self.exited_on is not None:
            return PathwayStatus.exited
        if states.occupies_now(self):
            return PathwayStatus.active
        if states.is_waitlisted(self):
            return PathwayStatus.waitlisted
        return PathwayStatus.prescribed


class EngagementReason(StrEnum):
    """Why a person's contrat d'engagement plans fewer hours than the rule (SPEC C11)."""

    health_or_disability = "health_or_disability"
    family_situation = "family_situation"
    other = "other"


class BeneficiaryEngagement(SQLModel, table=True):
    """A person's weekly hours target, lowered from PDI_WEEKLY_HOURS_TARGET until `until` (or for
    good). Personal data: reads audited, never in the feed, webhooks or exports; `pdi retention`
    deletes it with the person's pseudonym."""

    __tablename__ = "beneficiary_engagement"
    __table_args__ = (
        CheckConstraint("weekly_hours_target >= 0 AND weekly_hours_target <= 35", name="target_in_range"),
        CheckConstraint(
            f"reason IN ({', '.join(repr(reason.value) for reason in EngagementReason)})", name="reason_known"
        ),
    )

    beneficiary_id: int = Field(sa_column=Column(Integer, ForeignKey("beneficiary.id"), primary_key=True))
    weekly_hours_target: float
    reason: EngagementReason = Field(sa_type=String(32))
    until: date | None = None
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


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


class Diagnostic(SQLModel, table=True):
    """Depart'Parcours' written assessment of a person (SPEC C7), one per pathway: each of the
    fifteen dimensions (app/reference/diagnostic_dimensions.py) a column marked asset, barrier or
    neutral (null: not assessed), so that the barrier rates are plain SQL on both databases; the
    recommended actions, and the free text that retention erases (the summary and the notes of
    the recommendations)."""

    __table_args__ = tuple(CheckConstraint(_one_of(code, MARKS), name=f"{code}_mark_known") for code in DIMENSION_CODES)

    pathway_id: int = Field(sa_column=Column(Integer, ForeignKey("pathway.id"), primary_key=True))
    assessed_on: date
    # The fifteen dimensions, as app/reference/diagnostic_dimensions.py lists them (a test holds
    # the two equal): asset, barrier or neutral; null when not assessed.
    qualification: str | None = Field(default=None, max_length=8)
    professional_experience: str | None = Field(default=None, max_length=8)
    job_search_autonomy: str | None = Field(default=None, max_length=8)
    mobility: str | None = Field(default=None, max_length=8)
    interpersonal: str | None = Field(default=None, max_length=8)
    numeracy: str | None = Field(default=None, max_length=8)
    financial_situation: str | None = Field(default=None, max_length=8)
    availability: str | None = Field(default=None, max_length=8)
    oral_written_expression: str | None = Field(default=None, max_length=8)
    punctuality: str | None = Field(default=None, max_length=8)
    digital: str | None = Field(default=None, max_length=8)
    housing: str | None = Field(default=None, max_length=8)
    dress: str | None = Field(default=None, max_length=8)
    health: str | None = Field(default=None, max_length=8)
    social_ties: str | None = Field(default=None, max_length=8)
    # [{"action": code, "note": text or null}], in the author's order.
    recommendations: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    summary: str | None = Field(default=None, max_length=5000)
    # Set when `pdi retention` erased the free text (the dimensions stay).
    erased_at: datetime | None = moment_field()
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
