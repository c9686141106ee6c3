"""The ESF+ report's JSON shape (SPEC C9)."""

from pydantic import BaseModel, Field

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
