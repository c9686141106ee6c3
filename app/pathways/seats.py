"""Seats of a convention on a day: how many, how many taken, and the waiting list (SPEC C3).

On day `on`, a pathway
- *occupies* a seat when its stay `[entered_on, exited_on]` contains `on` (both ends
  inclusive, as SPEC counts stays: a person leaving on `on` is still there that day);
- *reserves* one when it was prescribed by `on` and, on `on`, was neither entered nor cancelled
  yet, unless it is on the waiting list;
- is *waitlisted* while it waits for a seat (a current state: the flag says nothing of past days).

The counts read only the pathways that can matter on `on`: those still open, and those closed
after `on` (three indexes, see the Pathway model), so they cost the same whatever the history.
Capacity is the seats open at any one time: ⌊places × months_per_place / 12⌋ of `on`'s year;
a convention year without places (funded by budget only) has no limit.

Deciding whether a prescription gets a seat, and promoting the waiting list when one frees,
happen with the convention's row locked (`lock_convention`), so that concurrent prescriptions
cannot both take the last seat.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from app.audit.service import record
from app.auth.service import Caller
from app.conventions.models import Convention, ConventionYear
from app.core.time import today
from app.pathways.models import Pathway


@dataclass(frozen=True)
class Seats:
    capacity: int | None
    occupied: int = 0
    reserved: int = 0
    waitlisted: int = 0
    next_release_on: date | None = None

    @property
    def available(self) -> int | None:
        # Overbooking happens (entries beyond funded places): never show a negative.
        return None if self.capacity is None else max(0, self.capacity - self.occupied - self.reserved)

    @property
    def free(self) -> bool:
        return self.capacity is None or self.available > 0


def capacity(places: int | None, months_per_place: int | None) -> int | None:
    return None if places is None else places * (months_per_place or 12) // 12


def counts_on(*, session: Session, on: date, convention_ids: list[int]) -> dict[int, dict]:
    """Per convention: occupied, reserved, waitlisted, next_release_on, pathways_updated_at."""
    if not convention_ids:
        return {}
    columns = (
        Pathway.convention_id,
        Pathway.prescribed_on,
        Pathway.entered_on,
        Pathway.exited_on,
        Pathway.cancelled_on,
        Pathway.planned_end_on,
        Pathway.waitlisted,
        Pathway.updated_at,
    )
    in_page = Pathway.convention_id.in_(convention_ids)
    still_open = select(*columns).where(in_page, Pathway.exited_on.is_(None), Pathway.cancelled_on.is_(None))
    exited_since = select(*columns).where(in_page, Pathway.exited_on >= on)
    cancelled_since = select(*columns).where(in_page, Pathway.cancelled_on > on)
    p = union_all(still_open, exited_since, cancelled_since).subquery()
    occupies = and_(p.c.entered_on <= on, or_(p.c.exited_on.is_(None), p.c.exited_on >= on), p.c.cancelled_on.is_(None))
    reserves = and_(
        p.c.prescribed_on <= on,
        or_(p.c.entered_on.is_(None), p.c.entered_on > on),
        or_(p.c.cancelled_on.is_(None), p.c.cancelled_on > on),
        p.c.waitlisted == literal(False),
    )
    waits = p.c.waitlisted == literal(True)
    statement = select(
        p.c.convention_id,
        func.coalesce(func.sum(case((occupies, 1), else_=0)), 0).label("occupied"),
        func.coalesce(func.sum(case((reserves, 1), else_=0)), 0).label("reserved"),
        func.coalesce(func.sum(case((waits, 1), else_=0)), 0).label("waitlisted"),
        # An overdue planned end (before `on`) announces no release: only future ones count.
        func.min(case((and_(occupies, p.c.planned_end_on >= on), p.c.planned_end_on))).label("next_release_on"),
        func.max(p.c.updated_at).label("pathways_updated_at"),
    ).group_by(p.c.convention_id)
    return {row.convention_id: row._asdict() for row in session.execute(statement)}


def lock_convention(session: Session, convention_id: int) -> Convention | None:
    """The convention's row, locked until commit: the one place seat decisions serialise."""
    return session.get(Convention, convention_id, with_for_update=True, populate_existing=True)


def seats_now(*, session: Session, convention_id: int) -> Seats:
    """The seats as a prescription or a promotion sees them: today's capacity against the
    pathways open now (a person who left today has freed their seat, although availability,
    which counts days, still shows them present until tonight)."""
    on = today()
    line = session.execute(
        select(ConventionYear.places, ConventionYear.months_per_place).where(
            ConventionYear.convention_id == convention_id, ConventionYear.year == on.year
        )
    ).first()
    is_open = and_(Pathway.convention_id == convention_id, Pathway.exited_on.is_(None), Pathway.cancelled_on.is_(None))
    occupied, reserved, waitlisted = session.execute(
        select(
            func.count().filter(Pathway.entered_on.is_not(None)),
            func.count().filter(Pathway.entered_on.is_(None), Pathway.waitlisted == literal(False)),
            func.count().filter(Pathway.waitlisted == literal(True)),
        ).where(is_open)
    ).one()
    return Seats(
        capacity=capacity(*line) if line else None, occupied=occupied, reserved=reserved, waitlisted=waitlisted
    )


def promote_waitlisted(*, session: Session, caller: Caller, convention_id: int) -> list[int]:
    """Give the seats free today to the oldest waitlisted prescriptions (order of arrival); the
    ids promoted. Call after any write that may free a seat or add one."""
    lock_convention(session, convention_id)
    session.flush()
    seats = seats_now(session=session, convention_id=convention_id)
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
