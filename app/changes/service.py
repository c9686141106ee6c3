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

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic_core import to_json, to_jsonable_python
from sqlalchemy import Text, and_, case, cast, false, func, literal_column, null, or_, true
from sqlmodel import Session, select

from app.assessments.models import ActionAssessment
from app.assessments.schemas import AssessmentRead
from app.assessments.service import assessment_read
from app.availability import service as availability
from app.catalogue.models import Action, Family, Operator, Site
from app.catalogue.schemas import FamilyRead, OperatorRead, SiteRead
from app.catalogue.service import action_reads
from app.conventions.models import Convention, ConventionStatus
from app.conventions.service import read_models as convention_reads
from app.core.caller import Caller, Role
from app.core.pagination import PageParams
from app.core.sql import is_postgres
from app.esf.records.models import PathwayParticipant
from app.outbox.models import Change, pathway_id_of
from app.pathways.access import pathway_visibility
from app.pathways.column_reads import iso_utc_sql, pathway_dicts_by_id, pathway_json_sql
from app.pathways.models import Pathway

PUBLIC_KINDS = ("family", "action", "operator", "site", "availability")
KEY_HOLDER_KINDS = (*PUBLIC_KINDS, "convention", "assessment")
PATHWAY_READERS = (Role.admin, Role.operator, Role.portal)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of the feed (app/changes/schemas.py documents its shape): `data` is the JSON of
    the entity's GET, as a dict (pathways) or its read model (the other kinds, a few a page)."""

    cursor: int
    kind: str
    id: str
    state: str
    modified: datetime
    data: Any = None
    # The whole item as JSON text, when the database wrote it (pathways on PostgreSQL).
    raw: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "kind": self.kind,
            "id": self.id,
            "state": self.state,
            "modified": self.modified,
            "data": self.data,
        }

    def as_json(self) -> dict[str, Any]:
        """The item in JSON types (strings for dates), as a webhook's body carries it."""
        return json.loads(self.raw) if self.raw is not None else to_jsonable_python(self.as_dict())


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[FeedItem]
    next: int

    def json(self) -> bytes:
        """The page as GET /changes answers it, serialised once (ChangesPage is its schema)."""
        items = ",".join(item.raw if item.raw is not None else to_json(item.as_dict()).decode() for item in self.items)
        return f'{{"items":[{items}],"next":{self.next}}}'.encode()


# --- reading ---------------------------------------------------------------------------------


def _visible(caller: Caller):
    """The feed rows the caller may see: catalogue and availability for all, conventions for key
    holders, pathways as SPEC's roles say (operator: its own; portal: those it created; admin: all)."""
    if caller.role is None:
        return Change.kind.in_(PUBLIC_KINDS)
    if caller.role == Role.admin:
        return None  # every kind: no filter at all
    visible = Change.kind.in_(KEY_HOLDER_KINDS)
    if caller.role == Role.operator:
        return or_(visible, and_(Change.kind == "pathway", Change.operator_id == caller.operator_id))
    if caller.role == Role.portal:
        return or_(visible, and_(Change.kind == "pathway", Change.created_by_key_id.in_(caller.own_key_ids)))
    return visible


def _walked(condition):
    """`condition` as a filter of the rows met while walking the cursor, never a way to find them.

    A page is the first `limit` rows after a cursor: the one good plan walks the primary key
    from the cursor and stops at the page's end. Written plainly, a filter on the kind matches
    the (kind, entity_id) index, and a planner without statistics (a restore, a bulk load, or
    simply estimates that a kind is rare) may fetch every row of the visible kinds by that
    index and sort them: the whole feed, to answer a page. A CASE is opaque to the planner (no
    index matches it; its selectivity is the default half), so the walk is the only plan."""
    return case((condition, true()), else_=false())


def feed_filter(*, caller: Caller, after: int, kinds: Sequence[str] | None = None):
    """The feed rows after a cursor that the caller reads (of the given kinds): the one filter of
    GET /changes, also that of the webhooks an endpoint's owner receives (app/webhooks)."""
    conditions = [
        condition
        for condition in (_visible(caller), Change.kind.in_(kinds) if kinds else None)
        if condition is not None
    ]
    if not conditions:
        return Change.cursor > after
    return and_(Change.cursor > after, _walked(and_(*conditions)))


def page_statement(*, session: Session, caller: Caller, after: int, limit: int, kinds: Sequence[str] | None = None):
    """The SELECT of a page of the feed (list_changes; its plan is tested: a walk of the cursor)."""
    statement = (
        select(Change.cursor, Change.kind, Change.entity_id, Change.modified)
        .where(feed_filter(caller=caller, after=after, kinds=kinds))
        .order_by(Change.cursor)
        .limit(limit)
    )
    if is_postgres(session) and caller.role in PATHWAY_READERS:
        statement = _with_pathway_items(statement, caller)
    return statement


def list_changes(
    *, session: Session, caller: Caller, after: int, limit: int, today: date, kinds: Sequence[str] | None = None
) -> FeedPage:
    """A page of the feed. The rows are read as plain columns and each entity's data built
    from columns too (pathways, the most of any page) or from its read model (the others): a
    poll that finds nothing costs one indexed query."""
    statement = page_statement(session=session, caller=caller, after=after, limit=limit, kinds=kinds)
    written_by_sql = is_postgres(session) and caller.role in PATHWAY_READERS
    rows = session.execute(statement).all()
    if not rows:
        return FeedPage(items=[], next=after)
    # The pathways whose JSON the database did not write: all of them on SQLite, the waitlisted
    # ones on PostgreSQL (see _with_pathway_items).
    to_build = [row for row in rows if row.kind == "pathway" and (not written_by_sql or row.waitlisted)]
    data = _current_data(session=session, caller=caller, rows=rows, today=today, pathway_rows=to_build)
    items = []
    for row in rows:
        cursor, kind, entity_id, modified = row[:4]
        if written_by_sql and kind == "pathway" and row.item is not None:
            items.append(
                FeedItem(cursor=cursor, kind=kind, id=entity_id, state="updated", modified=modified, raw=row.item)
            )
            continue
        current = data.get((kind, entity_id))
        state = "updated" if current is not None else "deleted"
        items.append(FeedItem(cursor=cursor, kind=kind, id=entity_id, state=state, modified=modified, data=current))
    return FeedPage(items=items, next=rows[-1].cursor)


def _with_pathway_items(statement, caller: Caller):
    """The page's rows with, for each pathway the caller reads, its whole item as JSON text
    written by PostgreSQL (app/pathways/column_reads.py): the pathway joined by the row's id
    (an index probe each), its convention and FSE record; null for any other row, and for a
    waitlisted pathway (`waitlisted`: its place on the list is counted apart)."""
    participant = PathwayParticipant.__table__
    pathway_id = pathway_id_of(Change.kind, Change.entity_id)
    data, data_json = pathway_json_sql(caller)
    # The item around it, by concatenation (the id and the kind are plain codes and digits).
    item = (
        literal_column("""'{"cursor":'""")
        .concat(cast(Change.cursor, Text))
        .concat(literal_column("""',"kind":"pathway","id":"'"""))
        .concat(Change.entity_id)
        .concat(literal_column("""'","state":"updated","modified":"'"""))
        .concat(iso_utc_sql(Change.modified))
        .concat(literal_column("""'","data":'"""))
        .concat(data_json)
        .concat(literal_column("""'}'"""))
    )
    visible = and_(Pathway.id.is_not(None), pathway_visibility(caller))
    waitlisted = and_(visible, Pathway.waitlisted)
    return (
        statement.add_columns(
            case((and_(visible, ~Pathway.waitlisted), item), else_=null()).label("item"),
            func.coalesce(waitlisted, false()).label("waitlisted"),
        )
        .outerjoin(Pathway, Pathway.id == pathway_id)
        .outerjoin(Convention, Convention.id == Pathway.convention_id)
        .outerjoin(participant, participant.c.pathway_id == Pathway.id)
        .outerjoin(data, true())
    )


def _ints(rows, kind: str) -> list[int]:
    return [int(row.entity_id) for row in rows if row.kind == kind]


def _current_data(*, session: Session, caller: Caller, rows, today: date, pathway_rows) -> dict[tuple[str, str], Any]:
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
    if (ids := _ints(pathway_rows, "pathway")) and caller.role in PATHWAY_READERS:
        # As GET /pathways/{id} shows them to this caller (app/pathways/column_reads.py), built
        # from their columns: a page may hold a thousand.
        for pathway_id, pathway in pathway_dicts_by_id(session=session, caller=caller, ids=ids).items():
            data["pathway", str(pathway_id)] = pathway
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
