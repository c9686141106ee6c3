from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

ChangeKind = Literal["family", "action", "operator", "site", "convention", "availability", "pathway", "assessment"]


class ChangeRead(BaseModel):
    cursor: int
    kind: ChangeKind
    id: str = Field(
        description="The entity's id in the API: a code for families and actions, `<action code>/<year>` for"
        " assessments"
    )
    state: Literal["updated", "deleted"]
    modified: datetime
    data: Any | None = Field(description="The entity as its GET shows it now; null for a deletion")


class ChangesPage(BaseModel):
    items: list[ChangeRead]
    next: int = Field(description="Send it back as `after` to get what changed since this page")
