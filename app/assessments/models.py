"""The bilan qualitatif: the points the département's staff write on an action after a year."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, updated_at_field

MIN_YEAR, MAX_YEAR = 2000, 2100


class ActionAssessment(SQLModel, table=True):
    """One action's assessment of one year: its points, in the order the staff wrote them.

    The points are one JSON list rather than a row each: they are written, read and replaced as
    one text (a PUT sends them all), never queried one by one."""

    __tablename__ = "action_assessment"
    __table_args__ = (
        UniqueConstraint("action_id", "year"),
        CheckConstraint(f"year BETWEEN {MIN_YEAR} AND {MAX_YEAR}", name="year_in_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No ON DELETE CASCADE: the staff's text is not lost with an action deleted by mistake; the
    # action's deletion is refused (409) until its assessments are deleted.
    action_id: int = Field(foreign_key="action.id", index=True)
    year: int
    points: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
