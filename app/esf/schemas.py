"""The ESF+ report's JSON shape (SPEC C9)."""

from pydantic import BaseModel, Field


class EsfValues(BaseModel):
    F: int
    M: int
    X: int
    total: int = Field(description="All participants, a sex not recorded included")


class EsfRow(BaseModel):
    indicator: str
    code: str | None = Field(description="The Commission's code, where its source is cited; null otherwise")
    label: str = Field(description="The indicator's wording in Annex I of Regulation (EU) 2021/1057")
    values: EsfValues


class EsfBlock(BaseModel):
    incomplete: int = Field(description="Persons entered in the year without a complete participant record")
    rows: list[EsfRow]


class EsfConvention(EsfBlock):
    convention_id: int
    reference: str
    action: str


class EsfReport(BaseModel):
    year: int
    conventions: list[EsfConvention]
    total: EsfBlock
