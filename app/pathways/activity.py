"""Activity counters operators report on their conventions (vehicle rental days, workshops…)."""

from datetime import date

from sqlmodel import Session, select

from app.audit.service import record
from app.core.caller import Caller
from app.core.errors import InvalidInput
from app.core.pagination import Page, PageParams, paginate
from app.core.time import today
from app.pathways import access
from app.pathways.models import ActivityMetric, ActivityRecord
from app.pathways.schemas import ActivityRecordCreate, ActivityRecordRead
from app.periods.service import ensure_open

AUDIT_ENTITY = "activity_record"


def list_activity(
    *,
    session: Session,
    caller: Caller,
    convention_id: int,
    params: PageParams,
    metric: ActivityMetric | None = None,
    from_: date | None = None,
    to: date | None = None,
) -> Page[ActivityRecordRead]:
    access.convention_for_activity(session=session, caller=caller, convention_id=convention_id, write=False)
    statement = (
        select(ActivityRecord)
        .where(ActivityRecord.convention_id == convention_id)
        .order_by(ActivityRecord.recorded_on, ActivityRecord.id)
    )
    if metric is not None:
        statement = statement.where(ActivityRecord.metric == metric)
    if from_ is not None:
        statement = statement.where(ActivityRecord.recorded_on >= from_)
    if to is not None:
        statement = statement.where(ActivityRecord.recorded_on <= to)
    rows, total = paginate(session, statement, params)
    items = [ActivityRecordRead.model_validate(row) for row in rows]
    return Page.of(items, total, params)


def record_activity(
    *, session: Session, caller: Caller, convention_id: int, body: ActivityRecordCreate
) -> ActivityRecord:
    convention = access.convention_for_activity(session=session, caller=caller, convention_id=convention_id, write=True)
    if body.on > today():
        raise InvalidInput("on cannot be in the future", loc=["body", "on"])
    if not convention.start_on <= body.on <= convention.end_on:
        raise InvalidInput(
            f"on must lie within the convention's dates ({convention.start_on} to {convention.end_on})",
            loc=["body", "on"],
        )
    ensure_open(session=session, days=[body.on])
    row = ActivityRecord(
        convention_id=convention_id,
        recorded_on=body.on,
        metric=body.metric,
        quantity=body.quantity,
        created_by_key_id=caller.key_id,
    )
    session.add(row)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENTITY,
        entity_id=row.id,
        action="create",
        fields=["on", "metric", "quantity"],
    )
    session.flush()
    return row
