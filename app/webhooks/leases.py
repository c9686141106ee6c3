"""The webhook worker's leases: the SQL by which a worker claims an endpoint that has work, keeps
it, gives it back, and writes what may be written only while its lease holds (each statement
checks the lease's token). How the leases are shared out is told in app/webhooks/worker.py."""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import select

from app.core.db import PdiSession
from app.core.sql import is_postgres
from app.core.time import utcnow
from app.outbox.service import last_cursor
from app.webhooks.models import EndpointState, WebhookEndpoint


@dataclass
class Lease:
    """A worker's claim on an endpoint, and when it lapses (time.monotonic())."""

    endpoint_id: int
    token: str
    ends: float


def _due(now: datetime):
    return (
        WebhookEndpoint.state == EndpointState.active,
        or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
        or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
    )


def claim(engine: Engine, writer: Engine, *, lease_seconds: float) -> Lease | None:
    """A lease on one endpoint that has work, among those of the owner served longest ago; None
    when no endpoint has work (or another worker took it first)."""
    now = utcnow()
    # A plain read first: an idle worker must not take SQLite's write lock at every poll.
    with PdiSession(engine) as session:
        last = last_cursor(session)
        candidate = session.exec(
            select(WebhookEndpoint.id).where(*_due(now), WebhookEndpoint.cursor < last).limit(1)
        ).first()
    if candidate is None:
        return None
    # The owner's turn: when one of its endpoints was last claimed (a lease held now counts).
    sibling = aliased(WebhookEndpoint)
    owners_turn = (
        select(func.max(sibling.lease_until))
        .where(sibling.owner_key_id == WebhookEndpoint.owner_key_id)
        .scalar_subquery()
    )
    with PdiSession(writer) as session:
        statement = (
            select(WebhookEndpoint)
            .where(*_due(now), WebhookEndpoint.cursor < last_cursor(session))
            .order_by(
                owners_turn.is_not(None),
                owners_turn,
                WebhookEndpoint.lease_until.is_not(None),
                WebhookEndpoint.lease_until,
                WebhookEndpoint.id,
            )
            .limit(1)
        )
        if is_postgres(session):
            statement = statement.with_for_update(skip_locked=True)
        endpoint = session.exec(statement).first()
        if endpoint is None:
            return None
        token = uuid.uuid4().hex
        started = time.monotonic()
        endpoint.lease_token = token
        endpoint.lease_until = now + timedelta(seconds=lease_seconds)
        session.add(endpoint)
        session.commit()
        return Lease(endpoint.id, token, started + lease_seconds)


def renew(writer: Engine, lease: Lease, *, lease_seconds: float) -> bool:
    """The lease extended by a full term; False if it was lost meanwhile."""
    started = time.monotonic()
    with PdiSession(writer) as session:
        renewed = session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == lease.endpoint_id, WebhookEndpoint.lease_token == lease.token)
            .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        ).rowcount
        session.commit()
    if renewed:
        lease.ends = started + lease_seconds
    return bool(renewed)


def release(writer: Engine, lease: Lease) -> None:
    # `lease_until` stays as the end of the turn: the next claims serve other owners first.
    with PdiSession(writer) as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == lease.endpoint_id, WebhookEndpoint.lease_token == lease.token)
            .values(lease_token=None, lease_until=utcnow())
        )
        session.commit()


def advance(writer: Engine, endpoint_id: int, token: str, before: int, to: int) -> None:
    """The endpoint's cursor moved from `before` to `to`, if it is still there and the lease holds."""
    if to <= before:
        return
    with PdiSession(writer) as session:
        session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.lease_token == token,
                WebhookEndpoint.cursor == before,
            )
            .values(cursor=to)
        )
        session.commit()


def change_owner(writer: Engine, endpoint_id: int, token: str, key_id: int) -> None:
    with PdiSession(writer) as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_token == token)
            .values(owner_key_id=key_id)
        )
        session.commit()


def disable(writer: Engine, endpoint_id: int, token: str, reason: str) -> None:
    with PdiSession(writer) as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_token == token)
            .values(state=EndpointState.disabled, disabled_reason=reason, next_attempt_at=None, updated_at=utcnow())
        )
        session.commit()
