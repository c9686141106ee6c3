"""Writing the change feed's outbox: the clock row and one row per changed entity.

See app/changes/service.py for why cursors come from one locked row at commit time. This module
imports only models, so that the capture (app/outbox/capture.py) can run inside any session.
"""

from sqlalchemy import BigInteger, String, cast, func, insert, literal, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention
from app.core.models import UTCDateTime
from app.core.sql import is_postgres, rows_table
from app.core.time import utcnow
from app.outbox.models import Change, FeedClock, pathway_id_of
from app.pathways.models import Pathway

# The channel of the notices that the feed moved (app/availability/cache.py listens to it).
FEED_CHANNEL = "pdi_feed"


def write_changes(session: Session, keys: set[tuple[str, str]]) -> None:
    """Move each (kind, id) to a new cursor, taken under the clock's row lock (see module doc)."""
    if not keys:
        return
    keys = sorted(keys)
    last = session.execute(
        update(FeedClock)
        .where(FeedClock.id == 1)
        .values(last_cursor=FeedClock.last_cursor + len(keys))
        .returning(FeedClock.last_cursor)
    ).scalar_one()
    _announce(session, last)
    first = last - len(keys) + 1
    changed = rows_table(
        session,
        "changed",
        [("cursor", BigInteger()), ("kind", String()), ("entity_id", String())],
        [(cursor, kind, entity_id) for cursor, (kind, entity_id) in enumerate(keys, start=first)],
    )
    # A pathway's readers come with it (see Change); the other kinds have none.
    pathway_id = pathway_id_of(changed.c.kind, changed.c.entity_id)
    rows = (
        select(
            changed.c.cursor,
            changed.c.kind,
            changed.c.entity_id,
            literal(utcnow(), UTCDateTime()),
            Convention.operator_id,
            Pathway.created_by_key_id,
        )
        .select_from(changed)
        .outerjoin(Pathway, Pathway.id == pathway_id)
        .outerjoin(Convention, Convention.id == Pathway.convention_id)
        .where(true())  # SQLite: an upsert's SELECT needs a WHERE, or ON CONFLICT reads as a join's
    )
    # An entity keeps one row, moved to its new cursor: an upsert on (kind, entity_id) of the
    # batch's rows as arrays (rows_table), one statement planned once whatever the count: an
    # exit batch names a thousand pathways, which as many upserts took a third of its time.
    upsert = _insert_for(session)(Change).from_select(
        ["cursor", "kind", "entity_id", "modified", "operator_id", "created_by_key_id"], rows
    )
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Change.kind, Change.entity_id],
            set_={name: upsert.excluded[name] for name in ("cursor", "modified", "operator_id", "created_by_key_id")},
        )
    )


def _announce(session: Session, cursor: int) -> None:
    """On PostgreSQL, NOTIFY the new last cursor, delivered when the transaction commits: the
    workers' availability caches learn that the data moved without asking (app/availability/cache.py)."""
    if is_postgres(session):
        session.execute(select(func.pg_notify(FEED_CHANNEL, str(cursor))))


def _insert_for(session: Session):
    # Both dialects' INSERT constructs speak ON CONFLICT the same way; the core one does not.
    return postgresql.insert if is_postgres(session) else sqlite.insert


# The clock's one question, asked by sessions (last_cursor) and by the availability cache's watch
# on its own psycopg connection (app/availability/cache.py).
LAST_CURSOR_SQL = f"SELECT last_cursor FROM {FeedClock.__tablename__} WHERE id = 1"


def last_cursor(session: Session) -> int:
    """The latest cursor: it moves with every committed change (availability's ETag uses it)."""
    return session.execute(text(LAST_CURSOR_SQL)).scalar_one_or_none() or 0


def record_missing(session: Session) -> int:
    """Give a feed row to every entity that has none (rows written by bulk loaders, which the
    ORM capture does not see); how many. Set-based: one INSERT … SELECT per kind."""
    added = 0
    for kind, id_column, readers in _entities():
        start = last_cursor(session)
        have = select(Change.entity_id).where(Change.kind == kind)
        missing = select(
            (literal(start) + func.row_number().over(order_by=id_column)).label("cursor"),
            literal(kind).label("kind"),
            cast(id_column, String(64)).label("entity_id"),
            literal(utcnow(), UTCDateTime()).label("modified"),
            *readers,
        ).where(cast(id_column, String(64)).not_in(have))
        columns = ["cursor", "kind", "entity_id", "modified", "operator_id", "created_by_key_id"][: 4 + len(readers)]
        session.execute(insert(Change).from_select(columns, missing))
        # The highest cursor now given (a driver's rowcount for INSERT … SELECT is not reliable).
        last = session.execute(select(func.max(Change.cursor))).scalar_one() or 0
        if last > start:
            session.execute(update(FeedClock).where(FeedClock.id == 1).values(last_cursor=last))
            _announce(session, last)
            added += last - start
    return added


def _entities():
    """(kind, the id the API uses, the pathway readers' columns) of every kind the feed carries."""
    pathways = (
        select(Pathway.id, Convention.operator_id, Pathway.created_by_key_id)
        .join(Convention, Convention.id == Pathway.convention_id)
        .subquery()
    )
    return [
        ("family", Family.code, []),
        ("action", Action.code, []),
        ("operator", Operator.id, []),
        ("site", Site.id, []),
        ("convention", Convention.id, []),
        ("availability", Convention.id, []),
        ("pathway", pathways.c.id, [pathways.c.operator_id, pathways.c.created_by_key_id]),
    ]
