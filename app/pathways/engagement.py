"""The contrat d'engagement (SPEC C11): a person's weekly hours target, and the meter of the
hours their pathways in progress give them on a day.

- The target is `PDI_WEEKLY_HOURS_TARGET` unless lowered for the person (health or disability,
  family situation, other) until an end day (included) or for good: `target_on` (Python) and
  `target_sql` (SQL) are the one rule, next to each other.
- A pathway is *in progress* on D when entered on or before D, not exited before D (one exited on
  D still counts that day) and not cancelled: `in_progress_sql`.
- The meter sums, per person, the effective weekly hours (app/pathways/weekly_hours.py) of their
  pathways in progress on D; the pathways whose hours are not known are counted in `unknown`
  and add nothing. One grouped query gives a page of persons (its count when the page is full)
  and one more the pathways of that page's persons, whatever their number.

Who may: the target, admin or a portal or operator having a pathway of the person (else 404);
the meter, admin (everyone) or a portal (the persons having a pathway it created, the ids of its
own pathways only). Every read is audited; neither is in the feed, webhooks or exports.
"""

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from app.audit.service import record
from app.catalogue.models import Action
from app.conventions.models import Convention
from app.core.caller import Caller, Role
from app.core.config import get_settings
from app.core.errors import NotFound
from app.core.pagination import Page, PageParams, paginate_rows
from app.core.security import pseudonymise
from app.core.sql import ids_in
from app.pathways import weekly_hours
from app.pathways.access import pathway_visibility
from app.pathways.models import Beneficiary, BeneficiaryEngagement, Pathway
from app.pathways.schemas import EngagementIn, EngagementRead, MeterPathway, MeterPerson

AUDIT_ENGAGEMENT = "engagement"
AUDIT_METER = "weekly_hours"


# --- the rules -----------------------------------------------------------------------------------


def default_target() -> float:
    return get_settings().weekly_hours_target


def target_on(engagement: BeneficiaryEngagement | None, day: date, default: float) -> float:
    """The person's target on `day`: the lowered one while it holds (until its end day, included)."""
    if engagement is not None and (engagement.until is None or engagement.until >= day):
        return engagement.weekly_hours_target
    return default


def target_sql(engagement, day: date, default: float) -> ColumnElement[float]:
    """`target_on` in SQL, for an engagement row outer-joined (all null when there is none)."""
    lowered = and_(
        engagement.weekly_hours_target.is_not(None), or_(engagement.until.is_(None), engagement.until >= day)
    )
    return case((lowered, engagement.weekly_hours_target), else_=literal(default))


def in_progress_sql(day: date, pathway=Pathway) -> ColumnElement[bool]:
    """A pathway in progress on `day`: entered by then, not exited before, not cancelled."""
    return and_(
        pathway.cancelled_on.is_(None),
        pathway.entered_on <= day,
        or_(pathway.exited_on.is_(None), pathway.exited_on >= day),
    )


# --- the target ----------------------------------------------------------------------------------


def _person(*, session: Session, caller: Caller, beneficiary_id: int) -> Beneficiary:
    """The person if the caller may act for them: admin, or a portal or operator with one of
    their pathways; 404 otherwise (never confirming that the person exists)."""
    person = session.get(Beneficiary, beneficiary_id)
    if person is not None and caller.role != Role.admin:
        theirs = session.scalar(
            select(
                exists()
                .where(Pathway.beneficiary_id == beneficiary_id, pathway_visibility(caller))
                .where(Convention.id == Pathway.convention_id)
            )
        )
        person = person if theirs else None
    if person is None:
        raise NotFound(f"Beneficiary {beneficiary_id} does not exist")
    return person


def _read(engagement: BeneficiaryEngagement) -> EngagementRead:
    return EngagementRead(
        beneficiary_id=engagement.beneficiary_id,
        weekly_hours_target=engagement.weekly_hours_target,
        reason=engagement.reason,
        until=engagement.until,
        default_target=default_target(),
        updated_at=engagement.updated_at,
    )


def get_engagement(*, session: Session, caller: Caller, beneficiary_id: int) -> EngagementRead:
    _person(session=session, caller=caller, beneficiary_id=beneficiary_id)
    engagement = session.get(BeneficiaryEngagement, beneficiary_id)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENGAGEMENT,
        entity_id=beneficiary_id,
        action="read",
        details={"rows": int(engagement is not None)},
    )
    session.flush()
    if engagement is None:
        raise NotFound(
            f"Beneficiary {beneficiary_id} has no lowered target: "
            f"PDI_WEEKLY_HOURS_TARGET ({default_target():g} h) applies"
        )
    return _read(engagement)


def put_engagement(
    *, session: Session, caller: Caller, beneficiary_id: int, body: EngagementIn
) -> tuple[EngagementRead, bool]:
    """Set the person's lowered target; (read, whether it was created)."""
    _person(session=session, caller=caller, beneficiary_id=beneficiary_id)
    engagement = session.get(BeneficiaryEngagement, beneficiary_id, with_for_update=True)
    created = engagement is None
    values = body.model_dump()
    if engagement is None:
        engagement = BeneficiaryEngagement(beneficiary_id=beneficiary_id, **values)
    else:
        for name, value in values.items():
            setattr(engagement, name, value)
    session.add(engagement)
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENGAGEMENT,
        entity_id=beneficiary_id,
        action="create" if created else "update",
        fields=sorted(values),
    )
    session.flush()
    return _read(engagement), created


def delete_engagement(*, session: Session, caller: Caller, beneficiary_id: int) -> None:
    _person(session=session, caller=caller, beneficiary_id=beneficiary_id)
    engagement = session.get(BeneficiaryEngagement, beneficiary_id, with_for_update=True)
    if engagement is None:
        raise NotFound(f"Beneficiary {beneficiary_id} has no lowered target")
    session.delete(engagement)
    record(session=session, caller=caller, entity=AUDIT_ENGAGEMENT, entity_id=beneficiary_id, action="delete")
    session.flush()


# --- the meter -----------------------------------------------------------------------------------


def _pathways_in_progress(caller: Caller, day: date, beneficiary_ref: str | None):
    """Each pathway in progress on `day` whose person is known, with its effective weekly hours."""
    statement = (
        select(
            Pathway.id.label("id"),
            Pathway.beneficiary_id.label("beneficiary_id"),
            Pathway.convention_id.label("convention_id"),
            Convention.action_id.label("action_id"),
            Pathway.territory.label("territory"),
            weekly_hours.effective_sql().label("hours"),
        )
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(in_progress_sql(day), Pathway.beneficiary_id.is_not(None))
    )
    if caller.role != Role.admin:
        # A portal's persons: those having a pathway it created, whatever its state.
        created = aliased(Pathway)
        statement = statement.where(
            Pathway.beneficiary_id.in_(
                select(created.beneficiary_id).where(created.created_by_key_id.in_(caller.own_key_ids))
            )
        )
    if beneficiary_ref is not None:
        ref_hash = pseudonymise(beneficiary_ref, secret=get_settings().secret_key)
        statement = statement.where(
            Pathway.beneficiary_id == select(Beneficiary.id).where(Beneficiary.ref_hash == ref_hash).scalar_subquery()
        )
    return statement.subquery("in_progress")


def _own(caller: Caller, created_by_key_id) -> ColumnElement[bool]:
    if caller.role == Role.admin:
        return literal(True)
    return created_by_key_id.in_(caller.own_key_ids)


def weekly_hours_meter(
    *,
    session: Session,
    caller: Caller,
    params: PageParams,
    on: date,
    below: float | None = None,
    action: str | None = None,
    territory: str | None = None,
    beneficiary_ref: str | None = None,
) -> Page[MeterPerson]:
    default = default_target()
    pathways = _pathways_in_progress(caller, on, beneficiary_ref)
    engagement = BeneficiaryEngagement.__table__.c
    hours = func.coalesce(func.sum(pathways.c.hours), 0.0)
    target = target_sql(engagement, on, default)

    def has_one(condition) -> ColumnElement[bool]:
        # The person has a pathway in progress meeting `condition`.
        return func.max(case((condition, 1), else_=0)) == 1

    having = [hours < (literal(below) if below is not None else target)]
    if action is not None:
        action_id = select(Action.id).where(Action.code == action).scalar_subquery()
        having.append(has_one(pathways.c.action_id == action_id))
    if territory is not None:
        having.append(has_one(pathways.c.territory == territory))
    statement = (
        select(
            pathways.c.beneficiary_id,
            hours.label("weekly_hours"),
            (func.count() - func.count(pathways.c.hours)).label("unknown"),
            target.label("target"),
        )
        .select_from(pathways)
        .outerjoin(BeneficiaryEngagement.__table__, engagement.beneficiary_id == pathways.c.beneficiary_id)
        .group_by(pathways.c.beneficiary_id, engagement.weekly_hours_target, engagement.until)
        .having(and_(*having))
        .order_by(pathways.c.beneficiary_id)
    )
    rows, total = paginate_rows(session, statement, params)
    by_person = _page_pathways(session=session, caller=caller, on=on, persons=[row.beneficiary_id for row in rows])
    items = [
        MeterPerson(
            beneficiary_id=row.beneficiary_id,
            weekly_hours=round(float(row.weekly_hours), 2),
            target=float(row.target),
            unknown=int(row.unknown),
            pathways=by_person.get(row.beneficiary_id, []),
        )
        for row in rows
    ]
    filters = {"on": on, "below": below, "action": action, "territory": territory, "beneficiary_ref": beneficiary_ref}
    record(
        session=session,
        caller=caller,
        entity=AUDIT_METER,
        entity_id="*",
        action="list",
        details={
            # The file number is personal data: the audit says it was asked, not which.
            "filters": {
                name: (True if name == "beneficiary_ref" else value)
                for name, value in filters.items()
                if value is not None
            },
            "page": params.page,
            "size": params.size,
            "rows": len(rows),
            "total": total,
        },
    )
    session.flush()
    return Page.of(items, total, params)


def _page_pathways(*, session: Session, caller: Caller, on: date, persons: list[int]) -> dict[int, list[MeterPathway]]:
    """The pathways in progress on `on` of the page's persons, one query; the id shown only on
    the caller's own pathways (a portal's), every id to admin."""
    if not persons:
        return {}
    rows = session.execute(
        select(
            Pathway.id,
            Pathway.beneficiary_id,
            Pathway.convention_id,
            Action.code.label("action"),
            weekly_hours.effective_sql().label("hours"),
            _own(caller, Pathway.created_by_key_id).label("own"),
        )
        .join(Convention, Convention.id == Pathway.convention_id)
        .join(Action, Action.id == Convention.action_id)
        .where(in_progress_sql(on), ids_in(Pathway.beneficiary_id, persons))
        .order_by(Pathway.beneficiary_id, Pathway.entered_on, Pathway.id)
    )
    by_person: dict[int, list[MeterPathway]] = {}
    for row in rows:
        fields: dict[str, Any] = {
            "action": row.action,
            "convention_id": row.convention_id,
            "weekly_hours": None if row.hours is None else float(row.hours),
        }
        if row.own:
            fields["id"] = row.id
        by_person.setdefault(row.beneficiary_id, []).append(MeterPathway(**fields))
    return by_person
