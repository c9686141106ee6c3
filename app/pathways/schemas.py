"""Bodies of the pathways API: beneficiaries, pathways and their lifecycle, exit records, activity."""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from app.catalogue.models import Territory
from app.catalogue.schemas import WeeklyHours
from app.core.schemas import BoundedText, InputModel, ReadModel, RowId, Timestamp
from app.core.security import normalised_ref
from app.core.time import today
from app.esf.records.schemas import LeavingStatus, ParticipantIn, ParticipantRead, QualificationGained
from app.pathways.models import (
    ActivityMetric,
    Decision,
    Diagnostic,
    EngagementReason,
    Household,
    Pathway,
    PathwayStatus,
    Sex,
)
from app.reference.diagnostic_dimensions import DIMENSION_CODES, MARKS
from app.reference.exit_reasons import EXIT_REASONS_BY_CODE
from app.reference.refusal_reasons import REFUSAL_REASON_CODES

# The person's file number: hashed on arrival, never stored nor returned.


def _visible_ref(ref: str) -> str:
    if not normalised_ref(ref):
        raise ValueError("must hold a visible character")
    return ref


# Stored only as a keyed hash of its normalised form (app/core/security.py).
BeneficiaryRef = Annotated[BoundedText(64, min_length=1), AfterValidator(_visible_ref)]
Hours = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
WEEKLY_HOURS_DESCRIPTION = "The person's own hours a week; null: the convention year's, else the action's"
# Metropolitan INSEE codes are 5 digits; Corsica's start with 2A / 2B.
InseeCode = BoundedText(5, pattern=r"^(\d{5}|2[AB]\d{3})$")
ReasonText = BoundedText(500, min_length=1, multiline=True)


def _known_exit_reason(code: str) -> str:
    if code not in EXIT_REASONS_BY_CODE:
        raise ValueError(f"'{code}' is not an exit reason (see /reference/exit-reasons)")
    return code


ExitReasonCode = Annotated[str, StringConstraints(max_length=32), AfterValidator(_known_exit_reason)]


def _not_after_this_year(year: int) -> int:
    if year > today().year:
        raise ValueError("birth_year cannot be in the future")
    return year


BirthYear = Annotated[int, Field(ge=1900), AfterValidator(_not_after_this_year)]


class BeneficiaryFields(InputModel):
    """What is known of the person besides the file number, recorded on this pathway only; on a
    correction, fields given overwrite, absent ones stay."""

    birth_year: BirthYear | None = None
    sex: Sex | None = None
    insee_code: InseeCode | None = None
    territory: Territory | None = None
    household: Household | None = None
    self_employed: bool | None = None


class PathwayCreate(InputModel):
    convention_id: RowId
    beneficiary_ref: BeneficiaryRef = Field(description="The person's file number; stored only as a keyed hash")
    beneficiary: BeneficiaryFields | None = None
    participant: ParticipantIn | None = Field(
        default=None, description="FSE: the participant at entry (admin, operator)"
    )
    prescribed_on: date
    # A historical import posts a whole pathway at once; a prescription gives none of these.
    entered_on: date | None = None
    planned_end_on: date | None = None
    exited_on: date | None = None
    exit_reason: ExitReasonCode | None = None
    hours: Hours | None = None
    weekly_hours: WeeklyHours | None = Field(default=None, description=WEEKLY_HOURS_DESCRIPTION)
    site_id: RowId | None = None
    if_full: Literal["waitlist", "refuse"] = Field(
        default="waitlist",
        description="A prescription finding no free seat is waitlisted, or with `refuse` answered 409",
    )

    def stay_fields_given(self) -> list[str]:
        """Fields beyond a prescription (a portal key may not send them)."""
        stay_fields = ("entered_on", "planned_end_on", "exited_on", "exit_reason", "hours")
        return [name for name in stay_fields if getattr(self, name) is not None]


class PathwayUpdate(InputModel):
    """Corrections: every rule is checked again on the result. `prescribed_on` cannot be null."""

    beneficiary: BeneficiaryFields | None = None
    participant: ParticipantIn | None = Field(
        default=None, description="FSE: the participant at entry (admin, operator)"
    )
    prescribed_on: date = None  # type: ignore[assignment]  # absent: unchanged; null: refused
    entered_on: date | None = None
    planned_end_on: date | None = None
    exited_on: date | None = None
    exit_reason: ExitReasonCode | None = None
    hours: Hours | None = None
    weekly_hours: WeeklyHours | None = Field(default=None, description=WEEKLY_HOURS_DESCRIPTION)
    site_id: RowId | None = None


class EntryIn(InputModel):
    entered_on: date
    planned_end_on: date | None = None
    site_id: RowId | None = None
    weekly_hours: WeeklyHours | None = Field(default=None, description=WEEKLY_HOURS_DESCRIPTION)


class ExitIn(InputModel):
    exited_on: date
    exit_reason: ExitReasonCode
    hours: Hours | None = None
    qualification_gained: QualificationGained = None
    labour_status_on_leaving: LeavingStatus = None


class CancelIn(InputModel):
    cancelled_on: date | None = Field(default=None, description="Default: today")
    cancel_reason: ReasonText


RefusalReasonCode = Literal[REFUSAL_REASON_CODES]  # type: ignore[valid-type]


class AcceptIn(InputModel):
    accepted_on: date
    appointment_on: date | None = Field(default=None, description="The first appointment offered, if known")


class RefuseIn(InputModel):
    refused_on: date
    refusal_reason: RefusalReasonCode = Field(description="A code of /reference/refusal-reasons")
    comment: ReasonText | None = None


class WithdrawIn(InputModel):
    withdrawn_on: date
    reason: ReasonText | None = None


class BeneficiaryRead(ReadModel):
    """The person's characteristics as recorded with one pathway."""

    birth_year: int | None
    sex: Sex | None
    insee_code: str | None
    territory: Territory | None
    household: Household | None
    self_employed: bool | None


class PathwayRead(ReadModel):
    id: int
    convention_id: int
    beneficiary_id: int | None = Field(
        description="The person (a pseudonymous id), shown to admin keys only; null for other keys, "
        "and once retention detached it"
    )
    beneficiary: BeneficiaryRead
    prescribed_on: date
    entered_on: date | None
    planned_end_on: date | None
    exited_on: date | None
    exit_reason: str | None
    hours: float | None
    weekly_hours: float | None = Field(description="The person's own hours a week, as given; null when not given")
    effective_weekly_hours: float | None = Field(
        default=None,
        description="The hours a week that apply: the pathway's own, else its convention year's (the year it "
        "started), else its action's; null when none is known",
    )
    site_id: int | None
    cancelled_on: date | None = Field(description="Set on a cancelled prescription only")
    cancel_reason: str | None
    status: PathwayStatus
    decision: Decision | None = Field(
        description="The operator's answer: pending while none came to a prescription still waiting; "
        "null when the pathway was entered, or ended, without one"
    )
    decided_on: date | None = Field(description="The day of the acceptance or refusal")
    appointment_on: date | None
    refusal_reason: str | None = Field(description="A code of /reference/refusal-reasons")
    refusal_comment: str | None
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = None
    expired_on: date | None = Field(default=None, description="The day the prescription expired unanswered")
    waitlist_position: int | None = Field(default=None, description="1 = next to get a seat; null when not waitlisted")
    updated_at: Timestamp
    participant: ParticipantRead | None = Field(
        default=None,
        description="FSE: the participant's record; only for admin and the pathway's operator, and only when "
        "the pathway has a record or an exit (absent otherwise)",
    )

    @model_serializer(mode="wrap")
    def participant_only_when_given(self, handler):
        # Personal data of another kind (SPEC C9): a read that was not given it (a portal's, a
        # feed item for a portal) carries no `participant` key at all, rather than a null.
        data = handler(self)
        if "participant" not in self.model_fields_set:
            data.pop("participant", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def characteristics_from_the_row(cls, data: Any) -> Any:
        # The row holds the characteristics as its own columns; the API nests them. A prescription
        # that ended otherwise than by a cancellation keeps its day in `cancelled_on` (see
        # app/pathways/models.py EndedAs): shown under its own name.
        if isinstance(data, Pathway):
            fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
            status = data.status
            if data.ended_as is not None:
                fields |= {"cancelled_on": None, "cancel_reason": None}
            if status == PathwayStatus.withdrawn:
                fields |= {"withdrawn_on": data.cancelled_on, "withdrawal_reason": data.cancel_reason}
            if status == PathwayStatus.expired:
                fields |= {"expired_on": data.cancelled_on}
            if data.decision is None:
                waiting = status in (PathwayStatus.prescribed, PathwayStatus.waitlisted)
                fields["decision"] = Decision.pending if waiting else None
            return fields | {"beneficiary": BeneficiaryRead.model_validate(data)}
        return data


class ExitRecordIn(InputModel):
    """One exit of a batch: the pathway by `pathway_id`, or by (convention_id, beneficiary_ref, entered_on)."""

    pathway_id: RowId | None = None
    convention_id: RowId | None = None
    beneficiary_ref: BeneficiaryRef | None = None
    entered_on: date | None = None
    exited_on: date
    exit_reason: ExitReasonCode
    hours: Hours | None = None
    qualification_gained: QualificationGained = None
    labour_status_on_leaving: LeavingStatus = None

    @model_validator(mode="after")
    def names_its_pathway_one_way(self) -> "ExitRecordIn":
        natural_key = (self.convention_id, self.beneficiary_ref, self.entered_on)
        if self.pathway_id is not None:
            if any(part is not None for part in natural_key):
                raise ValueError("give pathway_id, or convention_id + beneficiary_ref + entered_on, not both")
        elif any(part is None for part in natural_key):
            raise ValueError("give pathway_id, or all of convention_id, beneficiary_ref and entered_on")
        return self

    def exit_fields(self) -> dict[str, Any]:
        """What this exit writes on its pathway (the hours only when given)."""
        fields = {"exited_on": self.exited_on, "exit_reason": self.exit_reason}
        if self.hours is not None:
            fields["hours"] = self.hours
        return fields


EXIT_RECORD_COLUMNS = tuple(ExitRecordIn.model_fields)


class ExitRecordResult(BaseModel):
    index: int = Field(description="The item's place in the batch, from 0")
    line: int | None = Field(
        default=None, description="CSV: the item's line in the file, the header being line 1 (null for JSON)"
    )
    status: str = Field(description="created | unchanged | error")
    pathway_id: int | None = None
    problem: dict[str, Any] | None = Field(
        default=None,
        description="RFC 9457 problem of an item in error; for CSV its `line` too. The problems of a batch "
        "list at most 100 errors between them (`errors`), and count the others (`errors_not_listed`)",
    )


class ExitRecordCounts(BaseModel):
    created: int = 0
    unchanged: int = 0
    error: int = 0


# A batch's answer (app/pathways/batches.py); each batch route names its own (ExitRecordsAnswer,
# FollowUpsAnswer). No docstrings: the OpenAPI document shows these as bare shapes.
class BatchAnswer(BaseModel):
    results: list[ExitRecordResult]
    counts: ExitRecordCounts


class ExitRecordsAnswer(BatchAnswer):
    pass


class ActivityRecordCreate(InputModel):
    on: date
    metric: ActivityMetric
    quantity: int = Field(ge=0, le=1_000_000)


class ActivityRecordRead(ReadModel):
    id: int
    convention_id: int
    on: date = Field(validation_alias="recorded_on")
    metric: ActivityMetric
    quantity: int
    created_at: Timestamp


# --- the diagnostic (SPEC C7) ------------------------------------------------------------------

DimensionCode = Literal[DIMENSION_CODES]  # type: ignore[valid-type]
Mark = Literal[MARKS]  # type: ignore[valid-type]
NoteText = BoundedText(1000, min_length=1)


class RecommendationIn(InputModel):
    action: BoundedText(64, min_length=1) = Field(description="The code of the action recommended")
    note: NoteText | None = None


class DiagnosticIn(InputModel):
    """The whole diagnostic: a PUT replaces what was stored."""

    assessed_on: date
    dimensions: dict[DimensionCode, Mark] = Field(
        min_length=1,
        max_length=len(DIMENSION_CODES),
        description="Each dimension assessed (see /reference/diagnostic-dimensions); absent: not assessed",
    )
    recommendations: list[RecommendationIn] = Field(default_factory=list, max_length=30)
    summary: BoundedText(5000, min_length=1) | None = None

    @field_validator("dimensions", mode="before")
    @classmethod
    def _at_most_every_dimension(cls, value: Any) -> Any:
        # pydantic checks a mapping's length after each of its entries: 70,000 unknown dimensions
        # would be 140,000 errors. More entries than dimensions is one error, at once.
        if isinstance(value, dict) and len(value) > len(DIMENSION_CODES):
            raise ValueError(f"at most {len(DIMENSION_CODES)} dimensions (see /reference/diagnostic-dimensions)")
        return value


class RecommendationRead(BaseModel):
    action: str
    note: str | None = None


class DiagnosticRead(ReadModel):
    pathway_id: int
    assessed_on: date
    dimensions: dict[str, str]
    recommendations: list[RecommendationRead]
    summary: str | None
    erased: bool = Field(description="True once retention erased its free text (summary and notes)")
    updated_at: Timestamp

    @model_validator(mode="before")
    @classmethod
    def dimensions_from_the_row(cls, data: Any) -> Any:
        if isinstance(data, Diagnostic):
            return {
                "pathway_id": data.pathway_id,
                "assessed_on": data.assessed_on,
                "dimensions": {code: getattr(data, code) for code in DIMENSION_CODES if getattr(data, code)},
                "recommendations": data.recommendations,
                "summary": data.summary,
                "erased": data.erased_at is not None,
                "updated_at": data.updated_at,
            }
        return data


# --- the contrat d'engagement (SPEC C11) ---------------------------------------------------------


class EngagementIn(InputModel):
    weekly_hours_target: float = Field(ge=0, le=35, allow_inf_nan=False, description="Hours a week, 0–35")
    reason: EngagementReason
    until: date | None = Field(default=None, description="The last day it holds; absent: until removed")


class EngagementRead(BaseModel):
    beneficiary_id: int
    weekly_hours_target: float
    reason: EngagementReason
    until: date | None
    default_target: float = Field(description="PDI_WEEKLY_HOURS_TARGET, which applies after `until`")
    updated_at: Timestamp


class MeterPathway(BaseModel):
    id: int | None = Field(default=None, description="Shown on the caller's own pathways only (a portal's)")
    action: str
    convention_id: int
    weekly_hours: float | None = Field(description="Its effective weekly hours; null when unknown")

    @model_serializer(mode="wrap")
    def id_only_when_given(self, handler):
        data = handler(self)
        if "id" not in self.model_fields_set:
            data.pop("id", None)
        return data


class MeterPerson(BaseModel):
    beneficiary_id: int
    weekly_hours: float = Field(description="The sum of the known effective weekly hours of their pathways in progress")
    target: float = Field(description="Their target on that day")
    unknown: int = Field(description="How many of their pathways in progress have no known hours")
    pathways: list[MeterPathway]
