"""The change feed's items: one schema per kind, `kind` naming it (the discriminator of their
union) and `data` typed as the entity's read schema, so that a generated client reads it typed."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.assessments.schemas import AssessmentRead
from app.availability.schemas import AvailabilityRead
from app.catalogue.schemas import ActionRead, FamilyRead, OperatorRead, SiteRead
from app.conventions.schemas import ConventionRead
from app.pathways.schemas import PathwayRead

ChangeKind = Literal["family", "action", "operator", "site", "convention", "availability", "pathway", "assessment"]
DATA_DESCRIPTION = "The entity as its GET shows it now; null for a deletion"


class Change(BaseModel):
    """What every feed item has (each kind's schema below narrows `kind` and types `data`)."""

    cursor: int
    kind: ChangeKind
    id: str = Field(
        description="The entity's id in the API: a code for families and actions, `<action code>/<year>` for"
        " assessments"
    )
    state: Literal["updated", "deleted"]
    modified: datetime
    data: Any | None = Field(description=DATA_DESCRIPTION)


class FamilyChange(Change):
    """A family's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["family"]
    data: FamilyRead | None = Field(description=DATA_DESCRIPTION)


class ActionChange(Change):
    """An action's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["action"]
    data: ActionRead | None = Field(description=DATA_DESCRIPTION)


class OperatorChange(Change):
    """An operator's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["operator"]
    data: OperatorRead | None = Field(description=DATA_DESCRIPTION)


class SiteChange(Change):
    """A site's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["site"]
    data: SiteRead | None = Field(description=DATA_DESCRIPTION)


class ConventionChange(Change):
    """A convention's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["convention"]
    data: ConventionRead | None = Field(description=DATA_DESCRIPTION)


class AvailabilityChange(Change):
    """An availability item's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["availability"]
    data: AvailabilityRead | None = Field(description=DATA_DESCRIPTION)


class PathwayChange(Change):
    """A pathway's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["pathway"]
    data: PathwayRead | None = Field(description=DATA_DESCRIPTION)


class AssessmentChange(Change):
    """An assessment's change: `data` as its GET shows it now, null for a deletion."""

    kind: Literal["assessment"]
    data: AssessmentRead | None = Field(description=DATA_DESCRIPTION)


ChangeRead = Annotated[
    FamilyChange
    | ActionChange
    | OperatorChange
    | SiteChange
    | ConventionChange
    | AvailabilityChange
    | PathwayChange
    | AssessmentChange,
    Field(discriminator="kind"),
]


class ChangesPage(BaseModel):
    items: list[ChangeRead]
    next: int = Field(description="Send it back as `after` to get what changed since this page")
