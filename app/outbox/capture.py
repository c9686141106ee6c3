"""What each transaction changed, noted as it flushes and written to the feed as it commits.

`install_feed_capture()` binds the listeners below to the project's session class
(app.core.db.PdiSession), the only one the service, the CLI, the seed and the tests open; the
app's factory, the CLI's entry and the tests' conftest call it. Until it is called, PdiSession
refuses every write (app.core.changes.FeedCaptureMissing): no process writes without its feed.

Writes through the ORM are noted at each flush (`after_flush`); a bulk statement (UPDATE, DELETE
or INSERT through `session.execute`) on a table the feed serves is refused unless its writer
named what it changed with `app.core.changes.note_change()` and said so
(`execution_options(feed_noted=True)`): a bulk write can no longer move data without the feed
knowing. At `before_commit` the notes become rows of the outbox (service.write_changes), in the
same transaction as the writes: a change is in the feed exactly when it is committed.
"""

from sqlalchemy import event, inspect, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from app.assessments.models import ActionAssessment
from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear, running_on
from app.core.changes import FEED_NOTED, PENDING, feed_captured, note_change
from app.core.db import PdiSession
from app.core.time import today
from app.outbox.service import write_changes
from app.pathways.models import Pathway

# Keys whose availability items are those of every convention of an action, operator or site,
# resolved when the transaction commits.
OF_ACTION, OF_OPERATOR, OF_SITE = "availability-of-action", "availability-of-operator", "availability-of-site"
# An assessment is named by its action's code and year (`<code>/<year>`); the row knows the
# action's id, whose code is looked up when the transaction commits.
OF_ASSESSMENT = "assessment-of-action"
# An action renamed: its assessments move to new ids, and the old ids become tombstones.
RENAMED_ACTION = "assessments-of-renamed-action"
RESOLVED = (OF_ACTION, OF_OPERATOR, OF_SITE, OF_ASSESSMENT, RENAMED_ACTION)


# The tables whose rows the feed serves (directly or through availability items).
WATCHED = (Family, Action, Operator, Site, Convention, ConventionYear, ConventionSite, Pathway, ActionAssessment)
WATCHED_TABLES = frozenset(model.__table__.name for model in WATCHED)


class UnnotedBulkWrite(RuntimeError):
    """A bulk statement on a table the feed serves, whose writer did not note its changes."""


def _old_value(row, attribute: str):
    history = inspect(row).attrs[attribute].history
    return history.deleted[0] if history.deleted else None


def _keys_of(row) -> list[tuple[str, object]]:
    if isinstance(row, Family):
        return [("family", row.code), ("family", _old_value(row, "code"))]
    if isinstance(row, Action):
        old_code = _old_value(row, "code")
        keys = [("action", row.code), ("action", old_code), (OF_ACTION, row.id)]
        if old_code is not None and old_code != row.code:
            keys.append((RENAMED_ACTION, f"{row.id}/{old_code}"))
        return keys
    if isinstance(row, Operator):
        return [("operator", row.id), (OF_OPERATOR, row.id)]
    if isinstance(row, Site):
        return [("site", row.id), (OF_SITE, row.id)]
    if isinstance(row, Convention):
        return [("convention", row.id), ("availability", row.id)]
    if isinstance(row, ConventionYear | ConventionSite):
        return [("convention", row.convention_id), ("availability", row.convention_id)]
    if isinstance(row, Pathway):
        return [("pathway", row.id), ("availability", row.convention_id)]
    if isinstance(row, ActionAssessment):
        return [(OF_ASSESSMENT, f"{row.action_id}/{row.year}")]
    return []


def _refuse_unnoted_bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table.name in WATCHED_TABLES and not state.execution_options.get(FEED_NOTED):
        raise UnnotedBulkWrite(
            f"A bulk write on {table.name} must note its changes for the feed (note_change) and "
            f"pass execution_options({FEED_NOTED}=True)"
        )


def _note_flushed_rows(session: Session, _flush_context) -> None:
    changed = [*session.new, *session.deleted]
    changed += [row for row in session.dirty if session.is_modified(row, include_collections=False)]
    for row in changed:
        for kind, entity_id in _keys_of(row):
            if entity_id is not None:
                note_change(session, kind, entity_id)


def _write_noted_changes(session: Session) -> None:
    session.flush()  # the rows still pending are changes too
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    keys = {key for key in pending if key[0] not in RESOLVED}
    keys |= _availability_of(session, pending)
    keys |= _assessments_of(session, pending)
    write_changes(session, keys)


def _forget_rolled_back_changes(session: Session) -> None:
    session.info.pop(PENDING, None)


_LISTENERS = (
    ("do_orm_execute", _refuse_unnoted_bulk_writes),
    ("after_flush", _note_flushed_rows),
    ("before_commit", _write_noted_changes),
    ("after_rollback", _forget_rolled_back_changes),
)


def install_feed_capture() -> None:
    """Bind the feed's capture to the project's sessions, and lift their refusal to write
    (idempotent: the app's factory and the CLI may both run in one process)."""
    for name, listener in _LISTENERS:
        if not event.contains(PdiSession, name, listener):
            event.listen(PdiSession, name, listener)
    feed_captured(PdiSession)


def _availability_of(session: Session, pending: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The availability items that show an action's code, an operator's name or a site."""
    by_kind = {
        kind: [int(entity_id) for k, entity_id in pending if k == kind] for kind in (OF_ACTION, OF_OPERATOR, OF_SITE)
    }
    conditions = []
    if by_kind[OF_ACTION]:
        conditions.append(Convention.action_id.in_(by_kind[OF_ACTION]))
    if by_kind[OF_OPERATOR]:
        conditions.append(Convention.operator_id.in_(by_kind[OF_OPERATOR]))
    if by_kind[OF_SITE]:
        conditions.append(
            Convention.id.in_(select(ConventionSite.convention_id).where(ConventionSite.site_id.in_(by_kind[OF_SITE])))
        )
    if not conditions:
        return set()
    # Only the items that show something: a convention that is not running today has a tombstone,
    # which a rename of its action or operator does not change (nor should move to a new cursor).
    ids = session.execute(select(Convention.id).where(or_(*conditions), running_on(today()))).scalars()
    return {("availability", str(convention_id)) for convention_id in ids}


def _assessments_of(session: Session, pending: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Assessments noted by (action id, year), named as the API names them: `<action code>/<year>`;
    and every assessment of a renamed action, under its new code and its old one (a tombstone)."""
    noted = {tuple(entity_id.split("/")) for kind, entity_id in pending if kind == OF_ASSESSMENT}
    renamed = [entity_id.split("/", 1) for kind, entity_id in pending if kind == RENAMED_ACTION]
    old_codes: dict[int, list[str]] = {}
    for action_id, old_code in renamed:
        old_codes.setdefault(int(action_id), []).append(old_code)
    if old_codes:
        rows = session.execute(
            select(ActionAssessment.action_id, ActionAssessment.year).where(ActionAssessment.action_id.in_(old_codes))
        )
        noted |= {(str(action_id), str(year)) for action_id, year in rows}
    if not noted:
        return set()
    action_ids = {int(action_id) for action_id, _year in noted}
    codes = dict(session.execute(select(Action.id, Action.code).where(Action.id.in_(action_ids))).all())
    keys = {("assessment", f"{codes[int(action_id)]}/{year}") for action_id, year in noted if int(action_id) in codes}
    keys |= {
        ("assessment", f"{old_code}/{year}")
        for action_id, year in noted
        for old_code in old_codes.get(int(action_id), [])
    }
    return keys
