"""Assessments of actions (SPEC C6): read by any key, written by admins, one per action and year.

A write locks the action's row first (`SELECT … FOR UPDATE`; on SQLite the writer's transaction
holds the database's write lock), then compares `If-Match`, then writes: of several clients
writing with the same ETag, exactly one succeeds and the others get 412.

A consolidated year does not freeze its assessments: consolidation makes a year's *figures*
final, and the qualitative bilan is written after them, often once they are final.

Side effects of a write: an audit event (entity `assessment`, id `<action code>/<year>`, never
the text), and the change feed's item of kind `assessment` under the same id, noted from the
ORM's flush by app/outbox/capture.py (so the seed loader's writes are in the feed too).
"""

from sqlalchemy import select
from sqlmodel import Session

from app.assessments.models import ActionAssessment
from app.assessments.schemas import AssessmentRead, AssessmentWrite
from app.audit.service import record
from app.catalogue.models import Action
from app.core.caller import Caller
from app.core.errors import NotFound, PreconditionFailed
from app.core.etag import check_if_match
from app.core.pagination import Page, PageParams, paginate

ENTITY = "assessment"


def feed_id(action_code: str, year: int) -> str:
    """The id an assessment has in the audit log and the change feed: `<action code>/<year>`."""
    return f"{action_code}/{year}"


def _action(*, session: Session, code: str, for_update: bool = False) -> Action:
    statement = select(Action).where(Action.code == code)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    action = session.execute(statement).scalar_one_or_none()
    if action is None:
        raise NotFound(f"Action {code!r} does not exist")
    return action


def _row(*, session: Session, action: Action, year: int) -> ActionAssessment | None:
    return session.execute(
        select(ActionAssessment).where(ActionAssessment.action_id == action.id, ActionAssessment.year == year)
    ).scalar_one_or_none()


def assessment_read(action_code: str, row: ActionAssessment) -> AssessmentRead:
    return AssessmentRead(action=action_code, year=row.year, points=list(row.points), updated_at=row.updated_at)


def list_assessments(*, session: Session, code: str, page: PageParams) -> Page[AssessmentRead]:
    action = _action(session=session, code=code)
    statement = (
        select(ActionAssessment).where(ActionAssessment.action_id == action.id).order_by(ActionAssessment.year.desc())
    )
    rows, total = paginate(session, statement, page)
    return Page(items=[assessment_read(code, row) for row in rows], total=total, page=page.page, size=page.size)


def get_assessment(*, session: Session, code: str, year: int) -> AssessmentRead:
    action = _action(session=session, code=code)
    row = _row(session=session, action=action, year=year)
    if row is None:
        raise NotFound(f"Action {code!r} has no assessment for {year}")
    return assessment_read(code, row)


def put_assessment(
    *, session: Session, caller: Caller, code: str, year: int, data: AssessmentWrite, if_match: str | None
) -> tuple[AssessmentRead, bool]:
    """Create or replace the assessment; returns it and whether it was created."""
    action = _action(session=session, code=code, for_update=True)
    row = _row(session=session, action=action, year=year)
    if row is None:
        if if_match is not None:  # RFC 9110: If-Match names a version, and there is none
            raise PreconditionFailed(f"Action {code!r} has no assessment for {year} (If-Match names none)")
        row = ActionAssessment(action_id=action.id, year=year, points=list(data.points))
        created = True
    else:
        check_if_match(if_match, assessment_read(code, row))
        if list(row.points) == list(data.points):
            return assessment_read(code, row), False  # nothing to write: no audit event, no feed item
        row.points = list(data.points)
        created = False
    session.add(row)
    session.flush()
    session.refresh(row)
    record(
        session=session,
        caller=caller,
        entity=ENTITY,
        entity_id=feed_id(code, year),
        action="create" if created else "update",
        fields=["points"],
    )
    return assessment_read(code, row), created


def delete_assessment(*, session: Session, caller: Caller, code: str, year: int, if_match: str | None) -> None:
    action = _action(session=session, code=code, for_update=True)
    row = _row(session=session, action=action, year=year)
    if row is None:
        raise NotFound(f"Action {code!r} has no assessment for {year}")
    check_if_match(if_match, assessment_read(code, row))
    session.delete(row)
    session.flush()
    record(session=session, caller=caller, entity=ENTITY, entity_id=feed_id(code, year), action="delete")


def latest_of_years(*, session: Session, action_ids: list[int], years: list[int]) -> dict[int, ActionAssessment]:
    """Each action's assessment of the latest of `years` that has one (the bilan shows it)."""
    if not action_ids or not years:
        return {}
    rows = session.execute(
        select(ActionAssessment)
        .where(ActionAssessment.action_id.in_(action_ids), ActionAssessment.year.in_(years))
        .order_by(ActionAssessment.action_id, ActionAssessment.year)
    ).scalars()
    return {row.action_id: row for row in rows}  # the later year overwrites the earlier
