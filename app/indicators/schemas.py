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
