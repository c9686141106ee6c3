"""The change feed (SPEC C3): what changed since a cursor, in commit order, each entity once.

Why an outbox and a clock row rather than `updated_at` polling: an `updated_at` or a sequence
value is taken when a row is written, not when its transaction commits, so a transaction that
took a value first and committed last would land behind a cursor a poller has already passed.
Here a transaction takes its cursors at the very end, from the one `feed_clock` row, which it
then holds locked until it commits (on SQLite the database's write lock does the same): cursors
are handed out in the order transactions commit, and a poller that has seen cursor N has seen
every change committed before it.

The outbox keeps one row per entity (kind, id), moved to a new cursor at each change: replaying
from 0 gives every entity once, at its latest change. The row holds no data: an item's `data`
is the entity as its GET shows it when the feed is read, and its `state` is `deleted` when that
GET would find nothing (a deleted family, a convention cancelled or ended, an availability item
for a convention that does not run today).
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from app.assessments.models import ActionAssessment
from app.assessments.schemas import AssessmentRead
from app.assessments.service import assessment_read
from app.availability import service as availability
from app.catalogue.models import Action, Family, Operator, Site
from app.catalogue.schemas import FamilyRead, OperatorRead, SiteRead
from app.catalogue.service import action_reads
from app.changes.schemas import CHANGE_MODELS, ChangesPage
from app.conventions.models import Convention, ConventionStatus
from app.conventions.service import read_models as convention_reads
from app.core.caller import Caller, Role
from app.core.pagination import PageParams
from app.outbox.models import Change
from app.pathways import participants
from app.pathways.access import pathway_visibility
from app.pathways.models import Pathway
from app.pathways.reads import read_models as pathway_reads

PUBLIC_KINDS = ("family", "action", "operator", "site", "availability")
KEY_HOLDER_KINDS = (*PUBLIC_KINDS, "convention", "assessment")
PATHWAY_READERS = (Role.admin, Role.operator, Role.portal)


# --- reading ---------------------------------------------------------------------------------


def _visible(caller: Caller):
    """The feed rows the caller may see: catalogue and availability for all, conventions for key
    holders, pathways as SPEC's roles say (operator: its own; portal: those it created; admin: all)."""
    if caller.role is None:
        return Change.kind.in_(PUBLIC_KINDS)
    visible = Change.kind.in_(KEY_HOLDER_KINDS)
    if caller.role == Role.admin:
        return or_(visible, Change.kind == "pathway")
    if caller.role == Role.operator:
        return or_(visible, and_(Change.kind == "pathway", Change.operator_id == caller.operator_id))
    if caller.role == Role.portal:
        return or_(visible, and_(Change.kind == "pathway", Change.created_by_key_id.in_(caller.own_key_ids)))
    return visible


def feed_filter(*, caller: Caller, after: int, kinds: Sequence[str] | None = None):
    """The feed rows after a cursor that the caller reads (of the given kinds): the one filter of
    GET /changes, also that of the webhooks an endpoint's owner receives (app/webhooks)."""
    condition = and_(Change.cursor > after, _visible(caller))
    return and_(condition, Change.kind.in_(kinds)) if kinds else condition


def list_changes(
    *, session: Session, caller: Caller, after: int, limit: int, today: date, kinds: Sequence[str] | None = None
) -> ChangesPage:
    rows = session.exec(
        select(Change).where(feed_filter(caller=caller, after=after, kinds=kinds)).order_by(Change.cursor).limit(limit)
    ).all()
    data = _current_data(session=session, caller=caller, rows=rows, today=today)
    items = [
        CHANGE_MODELS[row.kind](
            cursor=row.cursor,
            kind=row.kind,
            id=row.entity_id,
            state="updated" if (row.kind, row.entity_id) in data else "deleted",
            modified=row.modified,
            data=data.get((row.kind, row.entity_id)),
        )
        for row in rows
    ]
    return ChangesPage(items=items, next=rows[-1].cursor if rows else after)


def _ints(rows: list[Change], kind: str) -> list[int]:
    return [int(row.entity_id) for row in rows if row.kind == kind]


def _current_data(*, session: Session, caller: Caller, rows: list[Change], today: date) -> dict[tuple[str, str], Any]:
    """Each entity of the page as its GET shows it, one query (or a few) per kind; absent = deleted."""
    data: dict[tuple[str, str], Any] = {}
    codes = [row.entity_id for row in rows if row.kind == "family"]
    if codes:
        for family in session.exec(select(Family).where(Family.code.in_(codes))):
            data["family", family.code] = FamilyRead.model_validate(family)
    codes = [row.entity_id for row in rows if row.kind == "action"]
    if codes:
        for action in action_reads(
            session=session, actions=session.exec(select(Action).where(Action.code.in_(codes))).all()
        ):
            data["action", action.code] = action
    if ids := _ints(rows, "operator"):
        for operator in session.exec(select(Operator).where(Operator.id.in_(ids))):
            data["operator", str(operator.id)] = OperatorRead.model_validate(operator)
    if ids := _ints(rows, "site"):
        for site in session.exec(select(Site).where(Site.id.in_(ids))):
            data["site", str(site.id)] = SiteRead.model_validate(site)
    if ids := _ints(rows, "convention"):
        running = session.exec(
            select(Convention).where(
                Convention.id.in_(ids), Convention.status.in_([ConventionStatus.draft, ConventionStatus.active])
            )
        ).all()
        for convention in convention_reads(session=session, conventions=running):
            data["convention", str(convention.id)] = convention
    if ids := _ints(rows, "availability"):
        page = availability.list_availability(
            session=session, on=today, params=PageParams(page=1, size=len(ids)), convention_ids=ids
        )
        for item in page.items:
            data["availability", str(item.convention_id)] = item
    if keys := [row.entity_id for row in rows if row.kind == "assessment"]:
        data |= _assessments(session=session, keys=keys)
    if (ids := _ints(rows, "pathway")) and caller.role in PATHWAY_READERS:
        pathways = session.exec(
            select(Pathway)
            .join(Convention, Convention.id == Pathway.convention_id)
            .where(Pathway.id.in_(ids), pathway_visibility(caller))
        ).all()
        # `participant` (FSE) only for the roles that read it: admin and the pathway's operator.
        reads = participants.with_participants(
            session=session, caller=caller, reads=pathway_reads(session=session, pathways=pathways, caller=caller)
        )
        for pathway in reads:
            data["pathway", str(pathway.id)] = pathway
    return data


def _assessments(*, session: Session, keys: list[str]) -> dict[tuple[str, str], AssessmentRead]:
    """Assessments named `<action code>/<year>`, as GET /actions/{code}/assessments/{year} shows them."""
    wanted = {tuple(key.rsplit("/", 1)) for key in keys}
    codes = {code for code, _year in wanted}
    rows = session.exec(
        select(ActionAssessment, Action.code)
        .join(Action, Action.id == ActionAssessment.action_id)
        .where(Action.code.in_(codes))
    ).all()
    return {
        ("assessment", f"{code}/{row.year}"): assessment_read(code, row)
        for row, code in rows
        if (code, str(row.year)) in wanted
    }
