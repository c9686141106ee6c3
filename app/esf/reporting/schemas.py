"""The bodies of ESF+'s reporting (SPEC C9): the six-month follow-ups, the report's JSON shape."""

from datetime import date

from pydantic import BaseModel, Field

from app.core.schemas import InputModel, RowId
from app.esf.records.models import FollowUpSituation
from app.pathways.schemas import BatchAnswer


class FollowUpIn(InputModel):
    """The participant's situation about six months after leaving: 150 to 240 days after the exit."""

    pathway_id: RowId
    observed_on: date
    situation: FollowUpSituation
    improved_situation: bool | None = None


FOLLOW_UP_COLUMNS = tuple(FollowUpIn.model_fields)


class FollowUpsAnswer(BatchAnswer):
    pass


class FollowUpDue(BaseModel):
    pathway_id: int
    convention_id: int
    exited_on: date
    window_from: date = Field(description="exited_on + 150 days")
    window_to: date = Field(description="exited_on + 240 days")


SUPPRESSED = (
    "Statistical secrecy: the cells withheld (null), counting 1 to PDI_MIN_CELL_SIZE − 1 persons; "
    "absent when nothing is withheld"
)


class EsfValues(BaseModel):
    F: int | None
    M: int | None
    X: int | None
    total: int | None = Field(description="All participants, a sex not recorded included")


class EsfRow(BaseModel):
    indicator: str
    code: str | None = Field(description="The Commission's code, where its source is cited; null otherwise")
    label: str = Field(description="The indicator's wording in Annex I of Regulation (EU) 2021/1057")
    values: EsfValues
    suppressed: list[str] = Field(default_factory=list, exclude_if=lambda cells: not cells, description=SUPPRESSED)


class EsfBlock(BaseModel):
    incomplete: int | None = Field(description="Persons entered in the year without a complete participant record")
    rows: list[EsfRow]
    suppressed: list[str] = Field(
        default_factory=list, exclude_if=lambda cells: not cells, description=f"`incomplete` withheld. {SUPPRESSED}"
    )


class EsfConvention(EsfBlock):
    convention_id: int
    reference: str
    action: str


class EsfReport(BaseModel):
    year: int
    conventions: list[EsfConvention]
    total: EsfBlock
