"""Unanswered prescriptions expire (SPEC C7), without any request: a periodic job.

A `prescribed` pathway with no decision `PDI_DECISION_DAYS` (30) days after `prescribed_on`, and
a `waitlisted` one (answered or not) `PDI_WAITLIST_DAYS` (90) days after it, becomes `expired`
on that day: the day it expired is `prescribed_on` + those days, whenever the job runs, so that
a late or repeated run records the same thing. Like a cancellation it ends the prescription
(`cancelled_on` is that day, `ended_as` says how: app/pathways/models.py EndedAs), frees its seat
or its place in the queue, and the oldest waitlisted prescriptions take the seats freed.

What one run does, in one transaction the caller commits: lock the seat counters of the
conventions concerned (the lock order of every pathway write, app/seats/service.py), select the
due pathways among them again, locked; leave those whose expiry would change a consolidated
year (they expire once it is reopened); expire the others with one UPDATE per kind; audit each;
name each in the change feed (a bulk statement: `note_change`); promote the waiting lists.
Two runs at once serialise on the seat locks and the second finds nothing left to do.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, not_, or_, select, update
from sqlmodel import Session

from app.audit.service import record
from app.auth.models import Role
from app.core.caller import Caller
from app.core.changes import FEED_NOTED, note_change
from app.core.config import get_settings
from app.core.sql import analyze_after_bulk, ids_in, is_postgres
from app.core.time import utcnow
from app.pathways.models import EndedAs, Pathway
from app.pathways.waiting_list import promote_waitlisted
from app.periods.service import closed_years
from app.seats import service as seats

# Who the audit log names for what the job does.
EXPIRY = Caller(key_id=None, name="expiry", role=Role.admin)


@dataclass(frozen=True)
class ExpiryCounts:
    prescribed: int = 0  # prescriptions expired unanswered
    waitlisted: int = 0  # waitlisted prescriptions expired
    promoted: int = 0  # waitlisted prescriptions given a seat freed by these expiries
    left_in_consolidated_years: int = 0  # due, but their expiry would change a consolidated year

    def __str__(self) -> str:
        return (
            f"expired: {self.prescribed} prescribed, {self.waitlisted} waitlisted; "
            f"promoted from the waiting lists: {self.promoted}; "
            f"left for a consolidated year: {self.left_in_consolidated_years}"
        )


def _due(*, today: date, decision_days: int, waitlist_days: int):
    waiting = and_(Pathway.entered_on.is_(None), Pathway.exited_on.is_(None), Pathway.cancelled_on.is_(None))
    return and_(
        waiting,
        or_(
            and_(
                not_(Pathway.waitlisted),
                Pathway.decision.is_(None),
                Pathway.prescribed_on <= today - timedelta(days=decision_days),
            ),
            and_(Pathway.waitlisted, Pathway.prescribed_on <= today - timedelta(days=waitlist_days)),
        ),
    )


def _day_after(session: Session, days: int):
    """SQL for `prescribed_on` + `days` days, on either database."""
    if is_postgres(session):
        return Pathway.prescribed_on + days
    return func.date(Pathway.prescribed_on, f"+{days} days")


def expire_prescriptions(*, session: Session, today: date) -> ExpiryCounts:
    """Expire the prescriptions due on `today` (see the module's docstring); the caller commits."""
    settings = get_settings()
    days_of = {False: settings.decision_days, True: settings.waitlist_days}
    due = _due(today=today, decision_days=settings.decision_days, waitlist_days=settings.waitlist_days)
    conventions = sorted(session.execute(select(Pathway.convention_id).where(due).distinct()).scalars())
    if not conventions:
        return ExpiryCounts()
    seats.lock_seats_of(session, conventions)
    rows = session.execute(
        select(Pathway.id, Pathway.convention_id, Pathway.prescribed_on, Pathway.waitlisted)
        .where(due, ids_in(Pathway.convention_id, conventions))
        .order_by(Pathway.id)
        .with_for_update()
    ).all()
    expired_on = {row.id: row.prescribed_on + timedelta(days=days_of[row.waitlisted]) for row in rows}
    # An expiry counts in the year it happens, and takes a prescription of its year out of the seats.
    years = {day.year for day in expired_on.values()} | {row.prescribed_on.year for row in rows}
    closed = closed_years(session=session, years=years)
    kept = [row for row in rows if expired_on[row.id].year not in closed and row.prescribed_on.year not in closed]
    now = utcnow()
    for waitlisted in (False, True):
        ids = [row.id for row in kept if row.waitlisted is waitlisted]
        if ids:
            session.execute(
                update(Pathway)
                .where(ids_in(Pathway.id, ids))
                .values(
                    cancelled_on=_day_after(session, days_of[waitlisted]),
                    ended_as=EndedAs.expired.value,
                    waitlisted=False,
                    updated_at=now,
                ),
                # Each is noted for the feed below, with its audit event.
                execution_options={"synchronize_session": False, FEED_NOTED: True},
            )
    session.expire_all()  # the rows changed under the ORM
    analyze_after_bulk(session, (Pathway,), len(kept))
    for row in kept:
        record(
            session=session,
            caller=EXPIRY,
            entity="pathway",
            entity_id=row.id,
            action="expire",
            fields=["cancelled_on", "ended_as", *(["waitlisted"] if row.waitlisted else [])],
            details={"expired_on": expired_on[row.id]},
        )
        note_change(session, "pathway", row.id)
    touched = sorted({row.convention_id for row in kept})
    for convention_id in touched:
        note_change(session, "availability", convention_id)
    promoted = 0
    for convention_id in seats.with_waiting_list(session, touched):
        promoted += len(promote_waitlisted(session=session, caller=EXPIRY, convention_id=convention_id))
    session.flush()
    return ExpiryCounts(
        prescribed=sum(1 for row in kept if not row.waitlisted),
        waitlisted=sum(1 for row in kept if row.waitlisted),
        promoted=promoted,
        left_in_consolidated_years=len(rows) - len(kept),
    )
