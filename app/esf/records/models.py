"""What the FSE (ESF+) asks of each participant (SPEC C9): characteristics at entry, the situation
on leaving, and the follow-up six months after.

Kept in tables of their own, one row per pathway, rather than as columns of `pathway`:
- they are personal data of another kind (disability, origin, housing), read by fewer callers
  (admin and the pathway's operator; never a portal key, whose pathways carry none of it), so no
  query that loads pathways for a portal or a feed can carry them by accident;
- only the pathways of co-funded conventions have them; the pathway table, which every seat and
  availability query scans, stays as narrow as it was;
- retention needs nothing more: a row names its pathway, never the person, so detaching a
  pathway from its person (app/pathways/retention.py) detaches these too, and the ESF report,
  which counts persons by the pathway's `person_key`, gives the same counts afterwards.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field


class LabourStatus(StrEnum):
    unemployed = "unemployed"
    long_term_unemployed = "long_term_unemployed"
    inactive = "inactive"
    employed = "employed"
    self_employed = "self_employed"


class Education(StrEnum):
    isced_0_2 = "isced_0_2"
    isced_3_4 = "isced_3_4"
    isced_5_8 = "isced_5_8"


class Answer(StrEnum):
    yes = "yes"
    no = "no"
    undisclosed = "undisclosed"


class LabourStatusOnLeaving(StrEnum):
    job_searching = "job_searching"
    inactive = "inactive"


class FollowUpSituation(StrEnum):
    employed_cdi = "employed_cdi"
    employed_cdd_over_6m = "employed_cdd_over_6m"
    employed_short = "employed_short"
    self_employed = "self_employed"
    training = "training"
    job_seeking = "job_seeking"
    inactive = "inactive"
    unknown = "unknown"


# The answers at entry that make a participant's record complete (age, sex and rural area come
# from the pathway itself).
ENTRY_FIELDS = (
    "labour_status",
    "education",
    "disability",
    "third_country_national",
    "foreign_background",
    "minority",
    "homeless",
)
ANSWER_FIELDS = ENTRY_FIELDS[2:]
EMPLOYED_SITUATIONS = frozenset({"employed_cdi", "employed_cdd_over_6m", "employed_short", "self_employed"})
# A follow-up whose situation is known, the denominator of employment_6_months_rate.
KNOWN_SITUATIONS = frozenset(situation.value for situation in FollowUpSituation) - {"unknown"}
# Days after the exit within which the six-month follow-up is observed.
FOLLOW_UP_WINDOW = (150, 240)


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(value.value) for value in values)})"


class PathwayParticipant(SQLModel, table=True):
    """The ESF+ record of one pathway's participant: at entry, and on leaving."""

    __tablename__ = "pathway_participant"
    __table_args__ = (
        CheckConstraint(_one_of("labour_status", LabourStatus), name="labour_status_known"),
        CheckConstraint(_one_of("education", Education), name="education_known"),
        *(CheckConstraint(_one_of(name, Answer), name=f"{name}_known") for name in ANSWER_FIELDS),
        CheckConstraint(_one_of("labour_status_on_leaving", LabourStatusOnLeaving), name="leaving_status_known"),
    )

    pathway_id: int = Field(sa_column=Column(Integer, ForeignKey("pathway.id", ondelete="CASCADE"), primary_key=True))
    labour_status: LabourStatus | None = Field(default=None, sa_type=String(24))
    education: Education | None = Field(default=None, sa_type=String(12))
    disability: Answer | None = Field(default=None, sa_type=String(12))
    third_country_national: Answer | None = Field(default=None, sa_type=String(12))
    foreign_background: Answer | None = Field(default=None, sa_type=String(12))
    minority: Answer | None = Field(default=None, sa_type=String(12))
    homeless: Answer | None = Field(default=None, sa_type=String(12))
    # On leaving (given with the exit); null: not said (labour status: job_searching by default).
    qualification_gained: bool | None = None
    labour_status_on_leaving: LabourStatusOnLeaving | None = Field(default=None, sa_type=String(16))

    @property
    def complete(self) -> bool:
        return all(getattr(self, name) is not None for name in ENTRY_FIELDS)


class FollowUp(SQLModel, table=True):
    """The participant's situation about six months after leaving: one per exited pathway."""

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(
            f"situation IN ({', '.join(repr(value.value) for value in FollowUpSituation)})", name="situation_known"
        ),
    )

    pathway_id: int = Field(sa_column=Column(Integer, ForeignKey("pathway.id", ondelete="CASCADE"), primary_key=True))
    observed_on: date
    situation: FollowUpSituation = Field(sa_type=String(24))
    improved_situation: bool | None = None
    created_by_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    created_at: datetime = created_at_field()
