"""Bodies of the FSE participant records (SPEC C9): `participant` on pathways and the leaving
fields of exits."""

from typing import Annotated, Any

from pydantic import BaseModel, Field

from app.core.schemas import InputModel, ReadModel
from app.esf.records.models import (
    Answer,
    Education,
    LabourStatus,
    LabourStatusOnLeaving,
    PathwayParticipant,
)
from app.reference.exit_reasons import SITUATION_ON_LEAVING


class ParticipantIn(InputModel):
    """The participant's characteristics at entry (ESF+, Annex I), recorded on this pathway only;
    on a correction, fields given overwrite, absent ones stay. Complete when all seven entry
    fields are known; the leaving fields are normally given with the exit."""

    labour_status: LabourStatus | None = None
    education: Education | None = Field(default=None, description="ISCED level attained")
    disability: Answer | None = None
    third_country_national: Answer | None = None
    foreign_background: Answer | None = None
    minority: Answer | None = None
    homeless: Answer | None = Field(default=None, description="Homeless or affected by housing exclusion")
    qualification_gained: bool | None = None
    labour_status_on_leaving: LabourStatusOnLeaving | None = None


# What an exit says of the participant besides its reason (SPEC C9), on ExitIn and ExitRecordIn.
QualificationGained = Annotated[bool | None, Field(default=None, description="FSE: a qualification gained on leaving")]
LeavingStatus = Annotated[
    LabourStatusOnLeaving | None,
    Field(
        default=None,
        description="FSE: the situation on leaving when the exit reason says neither employment nor training "
        "(default job_searching)",
    ),
]
LEAVING_FIELDS = ("qualification_gained", "labour_status_on_leaving")


def leaving_fields(body: BaseModel) -> dict[str, Any]:
    """The leaving fields an exit gives (absent ones are not said)."""
    return {name: getattr(body, name) for name in LEAVING_FIELDS if getattr(body, name, None) is not None}


class ParticipantRead(ReadModel):
    labour_status: LabourStatus | None
    education: Education | None
    disability: Answer | None
    third_country_national: Answer | None
    foreign_background: Answer | None
    minority: Answer | None
    homeless: Answer | None
    qualification_gained: bool | None
    labour_status_on_leaving: LabourStatusOnLeaving | None
    complete: bool = Field(description="All seven characteristics at entry are known")
    situation_on_leaving: str | None = Field(
        default=None,
        description="employed | in_education | job_searching | inactive, from the exit reason; null before the exit",
    )

    @classmethod
    def of(cls, row: PathwayParticipant | None, exit_reason: str | None) -> "ParticipantRead":
        row = row or PathwayParticipant(pathway_id=0)
        situation = None
        if exit_reason is not None:
            situation = SITUATION_ON_LEAVING.get(exit_reason) or (
                row.labour_status_on_leaving or LabourStatusOnLeaving.job_searching
            )
        return cls.model_validate(row).model_copy(update={"complete": row.complete, "situation_on_leaving": situation})
