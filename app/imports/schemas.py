"""The answer of POST /imports/data-inclusion/structures, item by item as /exit-records answers."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class StructureImportResult(BaseModel):
    line: int = Field(
        description="The structure's row in the sheet (the header being 1), or its position in JSON (from 1)"
    )
    status: Literal["created", "updated", "unchanged", "error"]
    operator_id: int | None = None
    site_id: int | None = None
    problem: dict[str, Any] | None = Field(
        default=None, description="RFC 9457 problem of a structure in error; `errors[].loc` names the field"
    )


class StructureImportCounts(BaseModel):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: int = 0


class StructureImportAnswer(BaseModel):
    items: list[StructureImportResult]
    counts: StructureImportCounts
