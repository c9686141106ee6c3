"""A convention's seats on a day, from what the database keeps: the counters now and the changes
by day (app/seats/models.py), so that a day long past costs the same as today.

Occupied and reserved on `on` are the sum of the convention's changes up to `on` (the changes by
day, an index range on (convention_id, day)); for `on` today or later, the same thing read from
the other end: the counters now minus the changes dated after `on` (the few future-dated
ones). Either way the cost follows the convention's days, not its pathways. The waiting list is
a current state (app/seats/states.py): the counters' figure, on any day.
"""

from datetime import date

from sqlalchemy import Date, bindparam, case, func, select, text
from sqlmodel import Session

from app.core.sql import ids_in
from app.core.time import today
from app.pathways.models import Pathway
from app.seats import states
from app.seats.models import ConventionSeatDay, ConventionSeats


def counts_on(*, session: Session, on: date, convention_ids: list[int]) -> dict[int, dict]:
    """Per convention: occupied, reserved, waitlisted, next_release_on, pathways_updated_at
    (the `updated_at` of the last pathway write that moved its seats on any day)."""
    if not convention_ids:
        return {}
    from_now = on >= today()
    day = ConventionSeatDay.day
    changes = (
        select(
            ConventionSeatDay.convention_id,
            func.sum(ConventionSeatDay.occupied_delta).label("occupied"),
            func.sum(ConventionSeatDay.reserved_delta).label("reserved"),
        )
        .where(ids_in(ConventionSeatDay.convention_id, convention_ids), day > on if from_now else day <= on)
        .group_by(ConventionSeatDay.convention_id)
        .subquery()
    )
    if from_now:
        occupied = ConventionSeats.occupied - func.coalesce(changes.c.occupied, 0)
        reserved = ConventionSeats.reserved - func.coalesce(changes.c.reserved, 0)
    else:
        occupied = func.coalesce(changes.c.occupied, 0)
        reserved = func.coalesce(changes.c.reserved, 0)
    # The next planned end (on or after `on`: an overdue one announces nothing) among the
    # pathways occupying a seat on `on`: one walk of the convention's index by planned end from
    # `on`, which stops at the first present; asked only where someone is present.
    present = states.OCCUPIES.on(states.Day(":on")).sql(Pathway.__tablename__, session.get_bind().dialect.name)
    next_release = (
        select(Pathway.planned_end_on)
        .where(
            Pathway.convention_id == ConventionSeats.convention_id,
            Pathway.planned_end_on >= on,
            text(present).bindparams(bindparam("on", on, type_=Date)),
        )
        .order_by(Pathway.planned_end_on)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            ConventionSeats.convention_id,
            occupied.label("occupied"),
            reserved.label("reserved"),
            ConventionSeats.waitlisted,
            case((occupied > 0, next_release)).label("next_release_on"),
            ConventionSeats.updated_at.label("pathways_updated_at"),
        )
        .outerjoin(changes, changes.c.convention_id == ConventionSeats.convention_id)
        .where(ids_in(ConventionSeats.convention_id, convention_ids))
    )
    return {row.convention_id: row._asdict() for row in rows}
