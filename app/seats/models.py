"""A convention's seats as the database keeps them: the counters now, and the changes by day."""

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from app.core.models import moment_field


class ConventionSeats(SQLModel, table=True):
    """A convention's seats as its pathways take them now, kept by the database itself.

    Triggers on `pathway` (migrations c5d1e3a7f9b2, then 20261207 f3b7d1a9c5e2) add each write's
    difference in the same statement, and one on `convention` gives every convention its row:
    no code path can forget them, bulk statements and COPY included. Locking a convention's row
    is how seat decisions serialise, and every pathway write that moves a seat takes the same
    lock through the triggers. What each count counts is app/seats/states.py's `now`.

    - occupied: pathways occupying a seat now (entered, not exited, not cancelled);
    - reserved: pathways reserving one now (not entered, not ended, not on the waiting list);
    - waitlisted: pathways on the waiting list;
    - updated_at: the `updated_at` of the last pathway write that changed these counts or the
      convention's changes by day (what availability shows on any day).
    """

    __tablename__ = "convention_seats"

    convention_id: int = Field(
        sa_column=Column(Integer, ForeignKey("convention.id", ondelete="CASCADE"), primary_key=True)
    )
    occupied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reserved: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    waitlisted: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime | None = moment_field()


class ConventionSeatDay(SQLModel, table=True):
    """How a convention's occupied and reserved seats change on a day, kept by the same triggers:
    the counts on a day are the sum of the changes up to that day (app/availability/counts.py), so a
    day long past costs the convention's days, not the pathways written since. The sum of all
    of a convention's changes is its counters' `occupied` and `reserved`. A day whose changes
    came back to zero keeps its row (harmless: at most one per convention and day)."""

    __tablename__ = "convention_seat_day"

    convention_id: int = Field(
        sa_column=Column(Integer, ForeignKey("convention.id", ondelete="CASCADE"), primary_key=True)
    )
    day: date = Field(sa_column=Column(Date, primary_key=True))
    occupied_delta: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    reserved_delta: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
