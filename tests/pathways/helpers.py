"""Helpers of the pathways tests: bodies, direct rows, problem checks, row counts."""

from datetime import date

from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.core.config import get_settings
from app.core.security import pseudonymise
from app.pathways.models import ActivityRecord, Beneficiary, Pathway
from app.periods.models import Period, PeriodStatus
from app.seats.models import ConventionSeats
from tests import factories
from tests.factories import row_counts
from tests.helpers import assert_problem  # noqa: F401  (the tests of this domain import it from here)

API = "/api/v1"
CONVENTION_START = date(2018, 1, 1)
CONVENTION_END = date(2020, 12, 31)


def pathway_body(convention_id: int, ref: str = "RSA-0001", **fields) -> dict:
    return {"convention_id": convention_id, "beneficiary_ref": ref, "prescribed_on": "2019-01-10", **fields}


def beneficiary_of(session: Session, ref: str) -> Beneficiary | None:
    ref_hash = pseudonymise(ref, secret=get_settings().secret_key)
    return session.exec(select(Beneficiary).where(Beneficiary.ref_hash == ref_hash)).first()


def stored_pathway(session: Session, convention_id: int, ref: str = "RSA-0001", **fields) -> Pathway:
    """A pathway put in the database directly (no HTTP), for tests about what comes after."""
    beneficiary = beneficiary_of(session, ref) or factories.beneficiary(session, ref=ref)
    row = factories.pathway(session, convention_id=convention_id, beneficiary_id=beneficiary.id, **fields)
    session.commit()
    return row


def consolidate(session: Session, year: int) -> None:
    session.merge(Period(year=year, status=PeriodStatus.consolidated))
    session.commit()


def stored_state(session: Session) -> dict:
    """Row counts and every pathway's fields: what a refused write must leave as it was."""
    session.expire_all()
    counts = row_counts(session, Pathway, Beneficiary, AuditEvent, ActivityRecord)
    pathways = session.execute(
        select(
            Pathway.id,
            Pathway.prescribed_on,
            Pathway.entered_on,
            Pathway.planned_end_on,
            Pathway.exited_on,
            Pathway.exit_reason,
            Pathway.hours,
            Pathway.site_id,
            Pathway.cancelled_on,
            Pathway.cancel_reason,
            Pathway.updated_at,
        ).order_by(Pathway.id)
    ).all()
    beneficiaries = session.execute(select(Beneficiary.id, Beneficiary.ref_hash).order_by(Beneficiary.id)).all()
    return {"counts": counts, "pathways": pathways, "beneficiaries": beneficiaries}


def recounted_seats(session: Session) -> dict[int, tuple[int, int, int]]:
    """Each convention's (occupied, reserved, waitlisted) now, counted in Python from every
    pathway row: the oracle of the counters the database keeps (ConventionSeats)."""
    counts: dict[int, list[int]] = {}
    for row in session.exec(select(Pathway)).all():
        count = counts.setdefault(row.convention_id, [0, 0, 0])
        still_open = row.exited_on is None and row.cancelled_on is None
        count[0] += still_open and row.entered_on is not None
        count[1] += still_open and row.entered_on is None and not row.waitlisted
        count[2] += bool(row.waitlisted)
    return {convention_id: tuple(count) for convention_id, count in counts.items() if any(count)}


def stored_seats(session: Session) -> dict[int, tuple[int, int, int]]:
    """The counters as the database keeps them (conventions whose counts are all zero left out)."""
    rows = session.exec(
        select(
            ConventionSeats.convention_id,
            ConventionSeats.occupied,
            ConventionSeats.reserved,
            ConventionSeats.waitlisted,
        )
    ).all()
    return {row[0]: tuple(row[1:]) for row in rows if any(row[1:])}
