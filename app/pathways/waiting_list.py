"""A convention's waiting list: the prescriptions that found no free seat (`Pathway.waitlisted`),
given the seats that free in order of arrival, and their places in the queue (SPEC C3).

The seats' counters and their lock are app/seats/service.py, below the pathways; what waiting
means next to occupying and reserving is app/seats/states.py."""

from sqlalchemy import func, select
from sqlmodel import Session

from app.audit.service import record
from app.core.caller import Caller
from app.pathways.models import Pathway
from app.seats.service import lock_seats


def promote_waitlisted(*, session: Session, caller: Caller, convention_id: int) -> list[int]:
    """Give the seats free today to the oldest waitlisted prescriptions (order of arrival); the
    ids promoted. Call after any write that may free a seat or add one."""
    session.flush()  # the writes still pending move the counters too
    seats = lock_seats(session, convention_id)
    if not seats.waitlisted:
        return []
    how_many = seats.waitlisted if seats.capacity is None else min(seats.available, seats.waitlisted)
    if how_many <= 0:
        return []
    promoted = list(
        session.execute(
            select(Pathway.id)
            .where(Pathway.convention_id == convention_id, Pathway.waitlisted)
            .order_by(Pathway.id)
            .limit(how_many)
        ).scalars()
    )
    for pathway in session.execute(
        select(Pathway).where(Pathway.id.in_(promoted)).execution_options(populate_existing=True)
    ).scalars():
        pathway.waitlisted = False
        session.add(pathway)
        record(
            session=session,
            caller=caller,
            entity="pathway",
            entity_id=pathway.id,
            action="promote",
            fields=["waitlisted"],
        )
    session.flush()
    return promoted


def waitlist_positions(*, session: Session, pathway_ids: list[int]) -> dict[int, int]:
    """Position on its convention's waiting list (1 = next) of each waitlisted pathway given."""
    if not pathway_ids:
        return {}
    conventions = select(Pathway.convention_id).where(Pathway.id.in_(pathway_ids), Pathway.waitlisted)
    ranked = (
        select(
            Pathway.id,
            func.row_number().over(partition_by=Pathway.convention_id, order_by=Pathway.id).label("position"),
        )
        .where(Pathway.waitlisted, Pathway.convention_id.in_(conventions))
        .subquery()
    )
    rows = session.execute(select(ranked.c.id, ranked.c.position).where(ranked.c.id.in_(pathway_ids)))
    return {pathway_id: position for pathway_id, position in rows}
