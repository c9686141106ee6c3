"""Bodies of the conventions API: a convention, its yearly lines, and their changes."""

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from app.catalogue.schemas import WeeklyHours
from app.conventions.models import BudgetKind, ConventionStatus
from app.core.schemas import BoundedText, Euros, InputModel, ReadModel, RowId, Timestamp
from app.reference.indicators import INDICATORS_BY_CODE

Reference = BoundedText(64, min_length=1)
ActionCode = BoundedText(64, min_length=1)
DecisionReference = BoundedText(256, min_length=1)
# The column is Numeric(14, 2): euros and cents, up to 999 999 999 999.99.
Amount = Annotated[Euros, Field(ge=0, max_digits=14, decimal_places=2)]
Year = Annotated[int, Field(ge=1, le=9999)]


def _known_indicator(code: str) -> str:
    if code not in INDICATORS_BY_CODE:
        raise ValueError(f"'{code}' is not an indicator code (see /reference/indicators)")
    return code


IndicatorCode = Annotated[str, AfterValidator(_known_indicator)]
# strict: a target is a number, not "12" nor true.
TargetValue = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]


class ConventionYearBody(InputModel):
    """A yearly line as PUT /conventions/{id}/years/{year} takes it (the year is in the path)."""

    year: Year | None = Field(default=None, description="Optional; when given, must equal the path's year")
    places: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Funded places; null when funded by budget only"
    )
    months_per_place: int = Field(
        default=12, ge=1, le=12, description="Months of support planned per place over the year"
    )
    budget: Amount | None = None
    budget_kind: BudgetKind = BudgetKind.agreed
    fse_amount: Amount | None = Field(default=None, description="Part of `budget` co-funded by the FSE")
    hours_threshold: int | None = Field(default=None, ge=0, le=100_000)
    weekly_hours: WeeklyHours | None = Field(default=None, description="This year's hours a week; null: the action's")
    targets: dict[IndicatorCode, TargetValue] | None = None


class ConventionYearCreate(ConventionYearBody):
    year: Year


class ConventionCreate(InputModel):
    reference: Reference
    action: ActionCode = Field(description="The action's code")
    operator_id: RowId
    start_on: date
    end_on: date
    status: ConventionStatus = ConventionStatus.active
    signed_on: date | None = Field(default=None, description="The day the convention was signed; null when not known")
    decision_reference: DecisionReference | None = Field(
        default=None, description="The reference of the decision that granted it (deliberation, arrêté)"
    )
    site_ids: list[RowId] = Field(default_factory=list, max_length=1000)
    years: list[ConventionYearCreate] = Field(default_factory=list, max_length=200)


class ConventionUpdate(InputModel):
    """Yearly lines are changed one by one with PUT /conventions/{id}/years/{year}."""

    reference: Reference | None = None
    status: ConventionStatus | None = None
    start_on: date | None = None
    end_on: date | None = None
    # Null erases them (not known).
    signed_on: date | None = None
    decision_reference: DecisionReference | None = None
    site_ids: list[RowId] | None = Field(default=None, max_length=1000, description="Replaces the set of sites")

    @field_validator("reference", "status", "start_on", "end_on", "site_ids")
    @classmethod
    def not_null(cls, value):
        # Absent means "unchanged"; an explicit null would erase a required field.
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class ConventionYearRead(ReadModel):
    year: int
    places: int | None
    months_per_place: int
    budget: Euros | None
    budget_kind: BudgetKind
    fse_amount: Euros | None
    hours_threshold: int | None
    weekly_hours: float | None = Field(description="This year's hours a week; null: the action's")
    targets: dict[str, float] | None


class ConventionRead(ReadModel):
    id: int
    reference: str
    action: str
    operator_id: int
    start_on: date
    end_on: date
    status: ConventionStatus
    signed_on: date | None
    decision_reference: str | None
    site_ids: list[int]
    years: list[ConventionYearRead]
    created_at: Timestamp
    updated_at: Timestamp
