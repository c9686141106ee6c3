"""`pdi worker`: delivers webhooks and runs the periodic jobs.

Per endpoint, events go out one at a time in feed order: the next waits until the previous is
delivered (or the endpoint is disabled). Progress is the endpoint's `cursor`, committed only
after a 2xx, so a worker or a database that stops loses nothing: the event in flight is sent
again (at least once, with the same webhook-id).

Several workers share the endpoints by leases: a worker claims an endpoint in a short writer
transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that claimers never wait on each
other; SQLite's one write lock on SQLite), delivers with no transaction open, and writes the
outcome in another short one, checking that its lease still holds. No transaction stays open
across an HTTP call of up to 15 s: on SQLite it would hold the database's write lock, and every
API write would wait behind it. A worker killed mid-delivery leaves its lease to expire
(PDI_WORKER_LEASE_SECONDS), after which another sends that event again: the one case of a double delivery.
An attempt never outlives its lease (its deadline is cut to what is left of it), so a live worker's
endpoint is never claimed by another.

One tenant cannot starve the others: a claim takes, among the endpoints with work, one of the owner
served longest ago (each endpoint's last turn is its `lease_until`), and a turn is one page of
events at most. Whatever goes wrong in a turn is recorded as the endpoint's failure; the delivery
thread goes on.
"""

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.auth.models import ApiKey, Role
from app.changes.service import list_changes
from app.core.caller import Caller
from app.core.config import Settings
from app.core.db import PdiSession
from app.core.engines import writer_engine
from app.core.sql import is_postgres
from app.core.time import today as paris_today
from app.core.time import utcnow
from app.outbox.service import last_cursor
from app.pathways.expiry import expire_prescriptions
from app.webhooks import secrets
from app.webhooks.delivery import (
    GIVE_UP_AFTER,
    JITTER,
    SCHEDULE,
    Outcome,
    event_body,
    event_type,
    new_client,
    next_delay,
    send,
    signed_headers,
)
from app.webhooks.models import EndpointState, WebhookDelivery, WebhookEndpoint, WebhookOutcomeCount
from app.webhooks.service import current_owner

log = logging.getLogger(__name__)

# A turn: the feed items read at once for one endpoint, delivered one after the other, each
# recorded; then the endpoint goes back to the queue, behind the other owners' (fairness).
PAGE = 50
# The part of a lease no attempt may use: the outcome must be written while the lease holds.
LEASE_MARGIN = 0.2


@dataclass
class Lease:
    """A worker's claim on an endpoint, and when it lapses (time.monotonic())."""

    endpoint_id: int
    token: str
    ends: float


def prune_delivery_log(session: Session, today: date, *, keep_days: int) -> int:
    """Forget delivery attempts older than PDI_WEBHOOK_LOG_DAYS (the counters of /metrics stay)."""
    cut = utcnow() - timedelta(days=keep_days)
    return session.execute(delete(WebhookDelivery).where(WebhookDelivery.attempted_at < cut)).rowcount


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: timedelta
    run: Callable[[Session, date], object]


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    """What the worker runs on a timer, each in its own writer transaction. Every job must be
    idempotent: each worker process keeps its own timer, so two workers may both run one.
    """
    return [
        # Unanswered prescriptions expire without any request (SPEC C7): a second worker running
        # it at once finds nothing left to expire (it locks the seat counters first).
        PeriodicJob(
            "expire_prescriptions",
            timedelta(hours=1),
            lambda session, today: expire_prescriptions(session=session, today=today),
        ),
        PeriodicJob(
            "prune_delivery_log",
            timedelta(hours=1),
            lambda session, today: prune_delivery_log(session, today, keep_days=settings.webhook_log_days),
        ),
    ]


@dataclass
class Worker:
    engine: Engine
    settings: Settings
    # Injectable for tests: the retry delays (seconds), their jitter, the randomness.
    schedule: tuple[float, ...] = SCHEDULE
    jitter: float = JITTER
    rng: random.Random = field(default_factory=random.Random)
    concurrency: int = 4
    lease_seconds: float | None = None
    jobs: list[PeriodicJob] | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.jobs is None:
            self.jobs = periodic_jobs(self.settings)
        if self.lease_seconds is None:
            self.lease_seconds = self.settings.worker_lease_seconds
        self._writer = writer_engine(self.engine)
        self._last_run: dict[str, float] = {}
        self._outage = False

    # --- running ------------------------------------------------------------------------------

    def run(self) -> None:
        """Deliver and run jobs until `stop` is set (SIGTERM); the deliveries in flight finish."""
        threads = [
            threading.Thread(target=self._deliver_forever, name=f"webhooks-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        while not self.stop.is_set():
            self.run_due_jobs()
            self.stop.wait(self.settings.worker_poll_seconds)
        for thread in threads:
            thread.join(timeout=60)

    def _deliver_forever(self) -> None:
        with new_client() as client:
            while not self.stop.is_set():
                try:
                    worked = self.deliver_one_endpoint(client)
                    if self._outage:
                        self._outage = False
                        log.info("webhook worker: the database is back")
                except SQLAlchemyError as exc:  # the database is away: try again later, one warning
                    if not self._outage:
                        self._outage = True
                        log.warning("webhook worker: database unavailable (%s), trying again", type(exc).__name__)
                    worked = False
                except Exception:  # a defect: logged, and the thread goes on delivering
                    log.exception("webhook worker: a turn failed")
                    worked = False
                if not worked:
                    self.stop.wait(self.settings.worker_poll_seconds)

    def run_once(self, *, max_attempts: int = 10_000) -> int:
        """Deliver until nothing is due (tests, `pdi worker --once`), at most `max_attempts`
        attempts (a receiver that keeps failing with no delay would keep it busy); how many."""
        attempts = 0
        with new_client() as client:
            while attempts < max_attempts and not self.stop.is_set():
                made = self.deliver_one_endpoint(client)
                if not made:
                    break
                attempts += made
        return attempts

    def run_due_jobs(self) -> None:
        import time

        for job in self.jobs or []:
            now = time.monotonic()
            if now - self._last_run.get(job.name, float("-inf")) < job.interval.total_seconds():
                continue
            self._last_run[job.name] = now
            try:
                with PdiSession(self._writer) as session:
                    result = job.run(session, paris_today())
                    session.commit()
                log.info("periodic job %s: %s", job.name, result)
            except Exception:
                log.exception("periodic job %s failed", job.name)

    # --- one endpoint ---------------------------------------------------------------------------

    def deliver_one_endpoint(self, client) -> int:
        """Claim one endpoint that has work and deliver its events of one page in order, until one
        fails; the attempts made (0: nothing was due). Whatever else goes wrong in the turn puts
        the endpoint's next attempt off as a failure would."""
        lease = self._claim()
        if lease is None:
            return 0
        try:
            attempts = self._deliver_page(client, lease)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("webhook endpoint %s: the turn failed", lease.endpoint_id)
            self._put_off(lease)
            attempts = 1
        finally:
            self._release(lease)
        return max(attempts, 1)

    def _due(self, now):
        return (
            WebhookEndpoint.state == EndpointState.active,
            or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
            or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
        )

    def _claim(self) -> Lease | None:
        now = utcnow()
        # A plain read first: an idle worker must not take SQLite's write lock at every poll.
        with PdiSession(self.engine) as session:
            last = last_cursor(session)
            candidate = session.exec(
                select(WebhookEndpoint.id).where(*self._due(now), WebhookEndpoint.cursor < last).limit(1)
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
        with PdiSession(self._writer) as session:
            statement = (
                select(WebhookEndpoint)
                .where(*self._due(now), WebhookEndpoint.cursor < last_cursor(session))
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
            endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
            session.add(endpoint)
            session.commit()
            return Lease(endpoint.id, token, started + self.lease_seconds)

    def _renew(self, lease: Lease) -> bool:
        """The lease extended by a full term; False if it was lost meanwhile."""
        started = time.monotonic()
        with PdiSession(self._writer) as session:
            renewed = session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == lease.endpoint_id, WebhookEndpoint.lease_token == lease.token)
                .values(lease_until=utcnow() + timedelta(seconds=self.lease_seconds))
            ).rowcount
            session.commit()
        if renewed:
            lease.ends = started + self.lease_seconds
        return bool(renewed)

    def _release(self, lease: Lease) -> None:
        # `lease_until` stays as the end of the turn: the next claims serve other owners first.
        try:
            with PdiSession(self._writer) as session:
                session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == lease.endpoint_id, WebhookEndpoint.lease_token == lease.token)
                    .values(lease_token=None, lease_until=utcnow())
                )
                session.commit()
        except SQLAlchemyError as exc:  # the lease lapses by itself
            log.info("webhook worker: lease of endpoint %s not released (%s)", lease.endpoint_id, type(exc).__name__)

    def _attempt_seconds(self, lease: Lease) -> float | None:
        """How long the next attempt may take: PDI_WEBHOOK_ATTEMPT_SECONDS, cut so that it ends
        before the lease does (renewed first when too little is left); None if the lease was lost."""
        margin = self.lease_seconds * LEASE_MARGIN
        wanted = self.settings.webhook_attempt_seconds
        if lease.ends - time.monotonic() - margin < wanted and not self._renew(lease):
            return None
        left = lease.ends - time.monotonic() - margin
        return min(wanted, left) if left > 0 else None

    def _deliver_page(self, client, lease: Lease) -> int:
        """Deliver the endpoint's next events, read in one page, one after the other until one
        fails; the attempts made."""
        endpoint_id, token = lease.endpoint_id, lease.token
        with PdiSession(self.engine) as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint.lease_token != token or endpoint.state != EndpointState.active:
                return 0
            created_by = session.get(ApiKey, endpoint.owner_key_id)
            owner = current_owner(session, created_by) if created_by is not None else None
            if owner is None:
                self._disable(endpoint_id, token, "the key that created it is revoked or expired")
                return 0
            if owner.id != endpoint.owner_key_id:  # rotated: the new key owns it, with its rights
                self._change_owner(endpoint_id, token, owner.id)
            caller = Caller(key_id=owner.id, name=owner.name, role=Role(owner.role), operator_id=owner.operator_id)
            scanned_to = last_cursor(session)
            page = list_changes(
                session=session,
                caller=caller,
                after=endpoint.cursor,
                limit=PAGE,
                today=paris_today(),
                kinds=endpoint.kinds,
            )
            session.rollback()
            signing = [secrets.decrypt(endpoint.secret_encrypted, secret_key=self.settings.secret_key)]
            if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at > utcnow():
                signing.append(secrets.decrypt(endpoint.previous_secret_encrypted, secret_key=self.settings.secret_key))
            url, cursor_before = endpoint.url, endpoint.cursor
        if not page.items:
            # Nothing this owner reads up to the feed's last cursor: skip past what it cannot see.
            self._advance(endpoint_id, token, cursor_before, scanned_to)
            return 0
        attempts = 0
        for item in page.items:
            if self.stop.is_set():
                break
            seconds = self._attempt_seconds(lease)
            if seconds is None:
                break
            event_id = str(item.cursor)
            body = event_body(item)
            headers = signed_headers(event_id=event_id, body=body, secrets=signing, now=utcnow())
            outcome = send(
                client=client,
                url=url,
                headers=headers,
                body=body,
                allow_private=self.settings.webhook_allow_private,
                deadline_seconds=seconds,
            )
            attempts += 1
            if not self._record(lease, item.cursor, event_type(item), outcome) or not outcome.delivered:
                break
        return attempts

    def _advance(self, endpoint_id: int, token: str, before: int, to: int) -> None:
        if to <= before:
            return
        with PdiSession(self._writer) as session:
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

    def _change_owner(self, endpoint_id: int, token: str, key_id: int) -> None:
        with PdiSession(self._writer) as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_token == token)
                .values(owner_key_id=key_id)
            )
            session.commit()

    def _disable(self, endpoint_id: int, token: str, reason: str) -> None:
        with PdiSession(self._writer) as session:
            session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_token == token)
                .values(state=EndpointState.disabled, disabled_reason=reason, next_attempt_at=None, updated_at=utcnow())
            )
            session.commit()
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)

    def _put_off(self, lease: Lease) -> None:
        """A turn that failed before any attempt (a defect, a secret that no longer decrypts):
        the endpoint is tried again later as after a failed attempt, not at once in a loop."""
        with PdiSession(self._writer) as session:
            endpoint = session.exec(
                select(WebhookEndpoint).where(WebhookEndpoint.id == lease.endpoint_id).with_for_update()
            ).first()
            if endpoint is not None and endpoint.lease_token == lease.token:
                self._failed(endpoint, utcnow(), retry_after=None)
                session.add(endpoint)
            session.commit()

    def _failed(self, endpoint: WebhookEndpoint, now, *, retry_after: float | None, gone: bool = False):
        """A failure noted on the endpoint: its next attempt, or its end (a 410, five days of
        failures); the next attempt's time (None once disabled)."""
        endpoint.attempts += 1
        endpoint.failing_since = endpoint.failing_since or now
        if gone:
            reason = "the receiver answered 410 Gone"
        elif now - endpoint.failing_since >= GIVE_UP_AFTER:
            reason = "deliveries failed for 5 days"
        else:
            reason = None
        if reason:
            endpoint.state = EndpointState.disabled
            endpoint.disabled_reason = reason
            endpoint.next_attempt_at = None
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)
            return None
        delay = next_delay(
            attempts=endpoint.attempts,
            schedule=self.schedule,
            jitter=self.jitter,
            rng=self.rng,
            retry_after=retry_after,
        )
        endpoint.next_attempt_at = now + timedelta(seconds=delay)
        return endpoint.next_attempt_at

    def _record(self, lease: Lease, cursor: int, kind: str, outcome: Outcome) -> bool:
        """The attempt in the log and the counters; on a 2xx the endpoint's progress, otherwise its
        next attempt (or its end); whether to go on (the lease holds and the endpoint is still
        active: one disabled meanwhile gets nothing more)."""
        now = utcnow()
        started = time.monotonic()
        with PdiSession(self._writer) as session:
            endpoint = session.exec(
                select(WebhookEndpoint).where(WebhookEndpoint.id == lease.endpoint_id).with_for_update()
            ).first()
            next_attempt_at = None
            attempt = (endpoint.attempts if endpoint is not None else 0) + 1
            holds = endpoint is not None and endpoint.lease_token == lease.token
            if holds:
                if outcome.delivered:
                    endpoint.cursor = max(endpoint.cursor, cursor)
                    endpoint.attempts = 0
                    endpoint.failing_since = None
                    endpoint.next_attempt_at = None
                    endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
                elif endpoint.state == EndpointState.active:
                    next_attempt_at = self._failed(
                        endpoint, now, retry_after=outcome.retry_after, gone=outcome.status_code == 410
                    )
                session.add(endpoint)
            if endpoint is not None:
                session.add(
                    WebhookDelivery(
                        endpoint_id=lease.endpoint_id,
                        event_id=str(cursor),
                        event_type=kind,
                        attempt=attempt,
                        attempted_at=now,
                        outcome=outcome.outcome,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        duration_ms=outcome.duration_ms,
                        next_attempt_at=next_attempt_at,
                    )
                )
            go_on = holds and endpoint.state == EndpointState.active
            self._count(session, outcome.outcome)
            session.commit()
        if holds and outcome.delivered:
            lease.ends = started + self.lease_seconds
        return go_on

    def _count(self, session: Session, outcome: str) -> None:
        done = session.execute(
            update(WebhookOutcomeCount)
            .where(WebhookOutcomeCount.outcome == outcome)
            .values(count=WebhookOutcomeCount.count + 1)
        ).rowcount
        if not done:
            session.add(WebhookOutcomeCount(outcome=outcome, count=1))
