"""API keys: creation (CLI), rotation, revocation, and resolving the caller of a request."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import event, func, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from app.auth.key_cache import KEYS_CHANNEL, LAST_USE_PRECISION, clear_every_cache
from app.auth.models import OWNER_KEY_PREFIX, ApiKey
from app.core.caller import Caller, Role
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_api_key, new_api_key
from app.core.sql import is_postgres
from app.core.time import utcnow

log = logging.getLogger(__name__)

DEFAULT_GRACE_DAYS = 7


def _expiry(expires_in_days: int | None) -> datetime | None:
    if expires_in_days is None:
        return None
    if expires_in_days < 1:
        raise InvalidInput("A key's lifetime is at least one day", loc=["expires_in"])
    return utcnow() + timedelta(days=expires_in_days)


def create_key(
    *,
    session: Session,
    role: Role,
    name: str,
    operator_id: int | None = None,
    expires_in_days: int | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key's hash; return the row and the key itself, which is never stored."""
    if role == Role.operator and operator_id is None:
        raise InvalidInput("An operator key must name its operator (--operator-id)", loc=["operator_id"])
    if role != Role.operator and operator_id is not None:
        raise InvalidInput("Only an operator key is bound to an operator", loc=["operator_id"])
    key = new_api_key()
    row = ApiKey(
        name=name,
        role=role,
        operator_id=operator_id,
        key_hash=hash_api_key(key),
        prefix=key[:12],
        expires_at=_expiry(expires_in_days),
    )
    session.add(row)
    # The key's foreign key knows the operators: the keys' storage sits below the catalogue.
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise NotFound(f"Operator {operator_id} does not exist") from None
    return row, key


def rotate_key(
    *, session: Session, key_id: int, grace_days: int = DEFAULT_GRACE_DAYS, expires_in_days: int | None = None
) -> tuple[ApiKey, ApiKey, str]:
    """A new key for the same holder, role and operator; the old one lives `grace_days` more
    (or less, if it was to expire sooner), time for its holder to switch. Returns the old row,
    the new row and the new key."""
    if grace_days < 0:
        raise InvalidInput("The grace period cannot be negative", loc=["grace_days"])
    old = session.exec(select(ApiKey).where(ApiKey.id == key_id).with_for_update()).first()
    if old is None:
        raise NotFound(f"API key {key_id} does not exist")
    if not old.is_usable(utcnow()):
        raise Conflict(f"API key {key_id} is revoked or expired: create a new key instead")
    if old.prefix == OWNER_KEY_PREFIX:
        # A key anyone could call with would inherit what the membership's people created.
        raise Conflict(f"API key {key_id} stands for a membership's people, and no one holds it: it cannot be rotated")
    new, key = create_key(
        session=session,
        role=Role(old.role),
        name=old.name,
        operator_id=old.operator_id,
        expires_in_days=expires_in_days,
    )
    new.rotated_from_id = old.id
    end_of_grace = utcnow() + timedelta(days=grace_days)
    old.expires_at = min(old.expires_at, end_of_grace) if old.expires_at else end_of_grace
    session.add_all([old, new])
    session.flush()
    _announce(session, key_id)
    return old, new, key


def revoke_key(*, session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"API key {key_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        _announce(session, key_id)
    return row


def _announce(session: Session, key_id: int) -> None:
    """Make every worker forget the keys it keeps in memory (app/auth/key_cache.py) once the
    revocation or rotation commits: this process's caches at once, the other processes' by a
    NOTIFY sent in the same transaction (PostgreSQL; elsewhere their entries live TTL_SECONDS)."""
    event.listen(session, "after_commit", lambda _session: clear_every_cache(), once=True)
    if is_postgres(session):
        session.execute(select(func.pg_notify(KEYS_CHANNEL, str(key_id))))


def lookup_key(
    *, session: Session, key_hash: str, now: datetime | None = None
) -> tuple[Caller, datetime | None] | None:
    """The caller of the key with this hash and the moment it expires (None: never), or None
    when it is unknown, revoked or expired (at `now`, by default the clock's)."""
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()
    if row is None or not row.is_usable(now or utcnow()):
        return None
    caller = Caller(
        key_id=row.id,
        name=row.name,
        role=Role(row.role),
        operator_id=row.operator_id,
        last_used_at=row.last_used_at,
        # Only a portal's reads follow who created a row (an operator's follow its operator).
        holder_key_ids=key_generations(session=session, key_id=row.id) if row.role == Role.portal else (),
    )
    return caller, row.expires_at


def key_generations(*, session: Session, key_id: int) -> tuple[int, ...]:
    """Every generation of a key: up its `rotated_from_id` links to the first key, then every
    key rotated from that one, and from those, in one statement (two recursive CTEs)."""
    parent = ApiKey.__table__.alias("parent")
    ancestors = select(ApiKey.id, ApiKey.rotated_from_id).where(ApiKey.id == key_id).cte("ancestors", recursive=True)
    ancestors = ancestors.union_all(
        select(parent.c.id, parent.c.rotated_from_id).where(parent.c.id == ancestors.c.rotated_from_id)
    )
    child = ApiKey.__table__.alias("child")
    generations = select(ancestors.c.id).where(ancestors.c.rotated_from_id.is_(None)).cte("generations", recursive=True)
    generations = generations.union_all(select(child.c.id).where(child.c.rotated_from_id == generations.c.id))
    ids = session.exec(select(generations.c.id)).all()
    return tuple(sorted({int(i) for i in ids} | {key_id}))


def note_key_use(*, session: Session, caller: Caller, now: datetime | None = None) -> None:
    """Record that the key was used, unless its stored last use is less than a minute old (the
    caller of this function decides when a use is worth the write: app/auth/key_cache.py).

    In a transaction of its own, begun by the write itself: on SQLite a read transaction that
    later writes cannot wait for the lock (a GET's session is a reader), while one whose first
    statement writes waits like any writer; and the lock is let go at once, not held for the
    whole request. Best effort: a busy database skips the note rather than the request.
    """
    now = now or utcnow()
    session.commit()
    try:
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == caller.key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USE_PRECISION),
            )
            .values(last_used_at=now)
        )
        session.commit()
    except OperationalError as exc:
        session.rollback()
        log.info("last use of key %s not recorded this time (%s)", caller.key_id, type(exc.orig).__name__)
