from datetime import date

from pydantic import BaseModel, ConfigDict, Field

GroupValue = str | int | None
Value = int | float | None


class IndicatorRowRead(BaseModel):
    group: dict[str, GroupValue]
    values: dict[str, Value]
    consolidated: bool
    # Only on rows grouped by convention within one year: that convention year's targets.
    targets: dict[str, float] | None = Field(default=None, exclude_if=lambda targets: targets is None)
    suppressed: list[str] = Field(
        default_factory=list,
        exclude_if=lambda codes: not codes,
        description="Statistical secrecy: the codes whose value is withheld (null in `values`), resting on "
        "fewer than PDI_MIN_CELL_SIZE persons; absent when nothing is withheld",
    )


class IndicatorsRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    as_of: date
    from_: date = Field(alias="from")
    to: date
    rows: list[IndicatorRowRead]


class BilanTableRowRead(BaseModel):
    indicator: str
    label: str
    values: dict[str, Value]  # by year, as a string key
    suppressed: list[str] = Field(
        default_factory=list,
        exclude_if=lambda years: not years,
        description="Statistical secrecy: the years whose value is withheld (null in `values`), resting on "
        "fewer than PDI_MIN_CELL_SIZE persons; absent when nothing is withheld",
    )


class BilanAssessmentRead(BaseModel):
    year: int
    points: list[str]


class BilanActionRead(BaseModel):
    code: str
    number: int
    name: str
    description: str | None
    operators: list[str]
    consolidated: dict[str, bool]
    table: list[BilanTableRowRead]
    assessment: BilanAssessmentRead | None = Field(
        default=None,
        description="The bilan qualitatif of the latest requested year that has one; null when none has",
    )


class BilanFamilyRead(BaseModel):
    code: str
    name: str
    actions: list[BilanActionRead]


class BilanRead(BaseModel):
    years: list[int]
    as_of: date
    consolidated: dict[str, bool]  # by year, as each action repeats it
    families: list[BilanFamilyRead]
