"""Seats of a convention: how many, and the lock order of the writes that move them (SPEC C3).

What a pathway occupies, reserves or waits for is defined once, in app/seats/states.py; the
database keeps, per convention, the counts now (ConventionSeats) and their changes by day
(ConventionSeatDay), by triggers; the counts on a day are app/availability/counts.py, the
waiting list's promotion app/pathways/waiting_list.py (both read the pathways, above the seats).
Capacity is the seats open at any one time: ⌊places × months_per_place / 12⌋ of `on`'s year;
a convention year without places (funded by budget only) has no limit.

Deciding whether a prescription gets a seat, and promoting the waiting list when one frees,
happen with the convention's counters locked (`lock_seats`), so that concurrent prescriptions
cannot both take the last seat.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.conventions.models import ConventionYear
from app.core.sql import ids_in
from app.core.time import today
from app.seats.models import ConventionSeats


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
