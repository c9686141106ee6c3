"""Seats of a convention on a day: how many, how many taken, and the waiting list (SPEC C3).

On day `on`, a pathway
- *occupies* a seat when its stay `[entered_on, exited_on]` contains `on` (both ends
  inclusive, as SPEC counts stays: a person leaving on `on` is still there that day);
- *reserves* one when it was prescribed by `on` and, on `on`, was neither entered nor cancelled
  yet, unless it is on the waiting list;
- is *waitlisted* while it waits for a seat (a current state: the flag says nothing of past days).

The database keeps, per convention, what the open pathways take now (ConventionSeats, kept by
triggers); the counts on `on` are those counters plus the few pathways whose place on `on`
differs from their place now (closed since, or dated after), so that today costs the same
whatever the history.
Capacity is the seats open at any one time: ⌊places × months_per_place / 12⌋ of `on`'s year;
a convention year without places (funded by budget only) has no limit.

Deciding whether a prescription gets a seat, and promoting the waiting list when one frees,
happen with the convention's counters locked (`lock_seats`), so that concurrent prescriptions
cannot both take the last seat.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from app.audit.service import record
from app.conventions.models import ConventionYear
from app.core.caller import Caller
from app.core.db import ids_in
from app.core.time import latest, today
from app.pathways.models import ConventionSeats, Pathway


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
    """Per convention: occupied, reserved, waitlisted, next_release_on, pathways_updated_at.

    The seat counters say what the open pathways take now; a pathway's place on `on` differs
    from that only when it closed on or after `on` (still there that day) or is dated after `on`
    (not there yet). Those few are read and their difference added, so that for today the cost
    is the page's counters plus a handful of rows, whatever the history; for a day long past it
    grows with what closed since.
    """
    if not convention_ids:
        return {}
    is_open = and_(Pathway.exited_on.is_(None), Pathway.cancelled_on.is_(None))
    in_page = ids_in(Pathway.convention_id, convention_ids)
    # The next planned end among the open pathways present on `on`: one index probe per convention.
    next_open_release = (
        select(Pathway.planned_end_on)
        .where(
            Pathway.convention_id == ConventionSeats.convention_id,
            is_open,
            Pathway.entered_on <= on,
            Pathway.planned_end_on >= on,
        )
        .order_by(Pathway.planned_end_on)
        .limit(1)
        .scalar_subquery()
    )
    counts = {
        row.convention_id: row._asdict()
        for row in session.execute(
            select(
                ConventionSeats.convention_id,
                ConventionSeats.occupied,
                ConventionSeats.reserved,
                ConventionSeats.waitlisted,
                next_open_release.label("next_release_on"),
                ConventionSeats.updated_at.label("pathways_updated_at"),
            ).where(ids_in(ConventionSeats.convention_id, convention_ids))
        )
    }
    for row in _differences_on(session=session, on=on, in_page=in_page, is_open=is_open):
        count = counts.setdefault(
            row.convention_id,
            {"occupied": 0, "reserved": 0, "waitlisted": 0, "next_release_on": None, "pathways_updated_at": None},
        )
        count["occupied"] += row.occupied
        count["reserved"] += row.reserved
        count["next_release_on"] = _earliest(count["next_release_on"], row.next_release_on)
        count["pathways_updated_at"] = latest(count["pathways_updated_at"], row.pathways_updated_at)
    return counts


def _differences_on(*, session: Session, on: date, in_page, is_open):
    """Per convention, what its pathways take on `on` minus what the counters hold them to take
    now, over the pathways where the two differ (four indexed ranges; the waiting list is a
    current state, the same on every day)."""
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
    exited_since = select(*columns).where(in_page, Pathway.exited_on >= on)
    cancelled_since = select(*columns).where(in_page, Pathway.cancelled_on > on)
    entered_after = select(*columns).where(in_page, is_open, Pathway.entered_on > on)
    prescribed_after = select(*columns).where(
        in_page, is_open, Pathway.entered_on.is_(None), Pathway.prescribed_on > on
    )
    p = union_all(exited_since, cancelled_since, entered_after, prescribed_after).subquery()
    still_open = and_(p.c.exited_on.is_(None), p.c.cancelled_on.is_(None))
    occupies_on = and_(
        p.c.entered_on <= on, or_(p.c.exited_on.is_(None), p.c.exited_on >= on), p.c.cancelled_on.is_(None)
    )
    reserves_on = and_(
        p.c.prescribed_on <= on,
        or_(p.c.entered_on.is_(None), p.c.entered_on > on),
        or_(p.c.cancelled_on.is_(None), p.c.cancelled_on > on),
        p.c.waitlisted == literal(False),
    )
    occupies_now = and_(still_open, p.c.entered_on.is_not(None))
    reserves_now = and_(still_open, p.c.entered_on.is_(None), p.c.waitlisted == literal(False))

    def one_if(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return session.execute(
        select(
            p.c.convention_id,
            (one_if(occupies_on) - one_if(occupies_now)).label("occupied"),
            (one_if(reserves_on) - one_if(reserves_now)).label("reserved"),
            # An overdue planned end (before `on`) announces no release: only future ones count.
            func.min(case((and_(occupies_on, p.c.planned_end_on >= on), p.c.planned_end_on))).label("next_release_on"),
            func.max(p.c.updated_at).label("pathways_updated_at"),
        ).group_by(p.c.convention_id)
    ).all()


def _earliest(*days: date | None) -> date | None:
    return min((day for day in days if day is not None), default=None)


def lock_seats_of(session: Session, convention_ids) -> None:
    """Lock these conventions' seat counters until commit, in convention order.

    The lock order of every write of pathways: first its conventions' counters, then the pathway
    rows (then the person's row). The counters' triggers lock them on any write that moves a
    seat, and a promotion holds them when it updates waitlisted rows; a write that locked a
    pathway row first and met the counters second could wait on a promotion waiting on it."""
    if convention_ids:
        session.execute(
            select(ConventionSeats.convention_id)
            .where(ids_in(ConventionSeats.convention_id, sorted(convention_ids)))
            .order_by(ConventionSeats.convention_id)
            .with_for_update()
        ).all()


def with_waiting_list(session: Session, convention_ids) -> list[int]:
    """Those of these conventions with someone on their waiting list, in convention order."""
    if not convention_ids:
        return []
    return list(
        session.execute(
            select(ConventionSeats.convention_id)
            .where(ids_in(ConventionSeats.convention_id, sorted(convention_ids)), ConventionSeats.waitlisted > 0)
            .order_by(ConventionSeats.convention_id)
        ).scalars()
    )


def lock_seats(session: Session, convention_id: int) -> Seats:
    """The convention's seat counters, locked until commit, with today's capacity: the one place
    seat decisions serialise. The counters' triggers take the same row lock for any pathway write
    that moves a seat, so a decision never sees a count that a concurrent write is changing.
    (Locking the counters rather than the convention's row keeps one lock order for everyone: a
    write that has moved a seat holds this lock already when it promotes the waiting list.)"""
    counters = session.execute(
        select(ConventionSeats.occupied, ConventionSeats.reserved, ConventionSeats.waitlisted)
        .where(ConventionSeats.convention_id == convention_id)
        .with_for_update()
    ).first()
    line = session.execute(
        select(ConventionYear.places, ConventionYear.months_per_place).where(
            ConventionYear.convention_id == convention_id, ConventionYear.year == today().year
        )
    ).first()
    occupied, reserved, waitlisted = counters or (0, 0, 0)
    return Seats(
        capacity=capacity(*line) if line else None, occupied=occupied, reserved=reserved, waitlisted=waitlisted
    )


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
