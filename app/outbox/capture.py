"""What each transaction changed, noted as it flushes and written to the feed as it commits.

The listeners below are bound to the project's session class (app.core.db.PdiSession), the only
one the service, the CLI, the seed and the tests open. Writes through the ORM are noted at each
flush (`after_flush`); a bulk statement (UPDATE, DELETE or INSERT through `session.execute`) on a
table the feed serves is refused unless its writer named what it changed with
`app.core.changes.note_change()` and said so (`execution_options(feed_noted=True)`): a bulk write
can no longer move data without the feed knowing. At `before_commit` the notes become rows of
the outbox (service.write_changes), in the same transaction as the writes: a change is in the
feed exactly when it is committed. app/models.py imports this module with the tables, so every
process that knows the schema has its feed.
"""

from sqlalchemy import event, inspect, or_, select
from sqlalchemy.orm import ORMExecuteState, Session

from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear, running_on
from app.core.changes import FEED_NOTED, PENDING, note_change
from app.core.db import PdiSession
from app.core.time import today
from app.outbox.service import write_changes
from app.pathways.models import Pathway

# Keys whose availability items are those of every convention of an action, operator or site,
# resolved when the transaction commits.
OF_ACTION, OF_OPERATOR, OF_SITE = "availability-of-action", "availability-of-operator", "availability-of-site"


# The tables whose rows the feed serves (directly or through availability items).
WATCHED = (Family, Action, Operator, Site, Convention, ConventionYear, ConventionSite, Pathway)
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
        return [("action", row.code), ("action", _old_value(row, "code")), (OF_ACTION, row.id)]
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
    return []


@event.listens_for(PdiSession, "do_orm_execute")
def _refuse_unnoted_bulk_writes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table.name in WATCHED_TABLES and not state.execution_options.get(FEED_NOTED):
        raise UnnotedBulkWrite(
            f"A bulk write on {table.name} must note its changes for the feed (note_change) and "
            f"pass execution_options({FEED_NOTED}=True)"
        )


@event.listens_for(PdiSession, "after_flush")
def _note_flushed_rows(session: Session, _flush_context) -> None:
    changed = [*session.new, *session.deleted]
    changed += [row for row in session.dirty if session.is_modified(row, include_collections=False)]
    for row in changed:
        for kind, entity_id in _keys_of(row):
            if entity_id is not None:
                note_change(session, kind, entity_id)


@event.listens_for(PdiSession, "before_commit")
def _write_noted_changes(session: Session) -> None:
    session.flush()  # the rows still pending are changes too
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    keys = {key for key in pending if key[0] not in (OF_ACTION, OF_OPERATOR, OF_SITE)}
    keys |= _availability_of(session, pending)
    write_changes(session, keys)


@event.listens_for(PdiSession, "after_rollback")
def _forget_rolled_back_changes(session: Session) -> None:
    session.info.pop(PENDING, None)


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
