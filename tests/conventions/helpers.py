"""What the conventions tests share: a small world of our own rows, and ways to see what was stored."""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.catalogue.models import Action, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.periods.models import Period, PeriodStatus
from tests.factories import row_counts
from tests.helpers import assert_problem  # noqa: F401  (the tests of this domain import it from here)

URL = "/api/v1/conventions"


@dataclass
class World:
    action: Action
    operator: Operator
    sites: list[Site]  # the operator's sites
    other_operator: Operator
    other_site: Site  # belongs to other_operator


def consolidate(session: Session, *years: int) -> None:
    for year in years:
        session.merge(Period(year=year, status=PeriodStatus.consolidated))
    session.commit()


def conventions_with_reference(session: Session, reference: str) -> int:
    return session.exec(select(func.count()).select_from(Convention).where(Convention.reference == reference)).one()


def stored_counts(session: Session) -> dict[str, int]:
    """Row counts of everything a conventions write touches."""
    return row_counts(session, Convention, ConventionYear, ConventionSite, AuditEvent)


def audit_events(session: Session, convention_id: int) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == "convention", AuditEvent.entity_id == str(convention_id))
            .order_by(AuditEvent.id)
        )
    )
