"""Reading pathways as each caller may: their read models (waiting-list places, the person's id
for admin only), the list with its filters and the one pathway, every read of personal data
audited. The writes are service.py's.
"""

from datetime import date, datetime

from sqlalchemy import and_, not_, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, select

from app.audit.service import record
from app.catalogue.models import Action
from app.conventions.models import Convention
from app.core.caller import Caller, Role
from app.core.pagination import Page, PageParams, paginate
from app.core.sql import ids_in
from app.pathways import access, waiting_list, weekly_hours
from app.pathways.models import Pathway, PathwayStatus
from app.pathways.schemas import PathwayRead

# The audit entity of pathways, read or written.
AUDIT_PATHWAY = "pathway"
# The entity id of an audited list: many pathways.
READ_MANY = "*"


def read_models(*, session: Session, pathways: list[Pathway], caller: Caller | None) -> list[PathwayRead]:
    """Read models of pathways as `caller` may see them, with their places on the waiting lists
    in one query. `beneficiary_id` is shown to admin only (null for anyone else, and for no
    caller): the service's id for a person is shared by every tenant, so showing it
    would tell an operator or a portal whether a file number it posts already has a pathway
    elsewhere, and let tenants match their persons with each other's."""
    positions = waiting_list.waitlist_positions(
        session=session, pathway_ids=[pathway.id for pathway in pathways if pathway.waitlisted]
    )
    shows_person = caller is not None and caller.role == Role.admin
    hours = _effective_weekly_hours(session=session, pathways=pathways)
    return [
        PathwayRead.model_validate(pathway).model_copy(
            update={
                "waitlist_position": positions.get(pathway.id),
                "beneficiary_id": pathway.beneficiary_id if shows_person else None,
                "effective_weekly_hours": hours.get(pathway.id),
            }
        )
        for pathway in pathways
    ]


def _effective_weekly_hours(*, session: Session, pathways: list[Pathway]) -> dict[int, float | None]:
    """Each pathway's effective weekly hours (app/pathways/weekly_hours.py), one query for them all:
    the sources' hours read, the rule applied in Python."""
    if not pathways:
        return {}
    sources = weekly_hours.source_columns_sql()
    rows = session.execute(
        select(Pathway.id, *(sources[name].label(name) for name in weekly_hours.PRECEDENCE))
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(ids_in(Pathway.id, [pathway.id for pathway in pathways]))
    )
    return {row.id: weekly_hours.effective(row._mapping) for row in rows}


def read_model(*, session: Session, pathway: Pathway, caller: Caller | None) -> PathwayRead:
    return read_models(session=session, pathways=[pathway], caller=caller)[0]


ENDED_AS_STATUSES = (PathwayStatus.refused, PathwayStatus.withdrawn, PathwayStatus.expired)
# The statuses of a pathway that ended before any entry (its `cancelled_on` is set).
ENDED_BEFORE_ENTRY = (PathwayStatus.cancelled, *ENDED_AS_STATUSES)


def _status_condition(status: PathwayStatus) -> ColumnElement[bool]:
    """The SQL twin of `Pathway.status`."""
    not_cancelled = Pathway.cancelled_on.is_(None)
    if status == PathwayStatus.cancelled:
        return and_(Pathway.cancelled_on.is_not(None), Pathway.ended_as.is_(None))
    if status in ENDED_AS_STATUSES:
        return Pathway.ended_as == status.value
    if status == PathwayStatus.exited:
        return and_(not_cancelled, Pathway.exited_on.is_not(None))
    if status == PathwayStatus.active:
        return and_(not_cancelled, Pathway.exited_on.is_(None), Pathway.entered_on.is_not(None))
    waiting = Pathway.waitlisted if status == PathwayStatus.waitlisted else not_(Pathway.waitlisted)
    return and_(not_cancelled, Pathway.exited_on.is_(None), Pathway.entered_on.is_(None), waiting)


def list_pathways(
    *,
    session: Session,
    caller: Caller,
    params: PageParams,
    convention_id: int | None = None,
    action: str | None = None,
    operator_id: int | None = None,
    status: PathwayStatus | None = None,
    active_on: date | None = None,
    updated_since: datetime | None = None,
) -> Page[PathwayRead]:
    statement = (
        select(Pathway)
        .join(Convention, Convention.id == Pathway.convention_id)
        .where(access.pathway_visibility(caller))
        .order_by(Pathway.id)
    )
    if convention_id is not None:
        statement = statement.where(Pathway.convention_id == convention_id)
    if action is not None:
        statement = statement.where(
            Convention.action_id == select(Action.id).where(Action.code == action).scalar_subquery()
        )
    if operator_id is not None:
        statement = statement.where(Convention.operator_id == operator_id)
    if status is not None:
        statement = statement.where(_status_condition(status))
    if active_on is not None:
        statement = statement.where(
            Pathway.cancelled_on.is_(None),
            Pathway.entered_on <= active_on,
            or_(Pathway.exited_on.is_(None), Pathway.exited_on >= active_on),
        )
    if updated_since is not None:
        statement = statement.where(Pathway.updated_at >= updated_since)
    rows, total = paginate(session, statement, params)
    filters = {
        "convention": convention_id,
        "action": action,
        "operator": operator_id,
        "status": status,
        "active_on": active_on,
        "updated_since": updated_since,
    }
    _record_read(
        session=session,
        caller=caller,
        entity_id=READ_MANY,
        action="list",
        details={
            "filters": {name: value for name, value in filters.items() if value is not None},
            "page": params.page,
            "size": params.size,
            "rows": len(rows),
            "total": total,
        },
    )
    return Page.of(read_models(session=session, pathways=rows, caller=caller), total, params)


def get_pathway(*, session: Session, caller: Caller, pathway_id: int) -> Pathway:
    pathway = access.visible_pathway(session=session, caller=caller, pathway_id=pathway_id)
    _record_read(session=session, caller=caller, entity_id=pathway.id, action="read", details={"rows": 1})
    return pathway


def _record_read(*, session: Session, caller: Caller, entity_id: object, action: str, details: dict) -> None:
    """Reads of personal data are audited: who, what was asked, how many rows; never the data."""
    record(session=session, caller=caller, entity=AUDIT_PATHWAY, entity_id=entity_id, action=action, details=details)
    session.flush()
