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
"""

import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from app.auth.models import ApiKey, Role
from app.changes.service import list_changes
from app.core.caller import Caller
from app.core.config import Settings
from app.core.db import PdiSession, is_postgres, writer_engine
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

# Pages of events delivered in a row to one endpoint before its lease is given back (fairness).
BATCH = 10
# Feed items read at once for one endpoint: delivered one after the other, each recorded.
PAGE = 50


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
        """Claim one endpoint that has work and deliver its events in order until it has none, one
        fails, or a batch is done; the attempts made (0: nothing was due)."""
        claim = self._claim()
        if claim is None:
            return 0
        endpoint_id, token = claim
        attempts = 0
        try:
            for _ in range(BATCH):
                if self.stop.is_set():
                    break
                made, keep_going = self._deliver_next(client, endpoint_id, token)
                attempts += made
                if not keep_going:
                    break
        finally:
            self._release(endpoint_id, token)
        return max(attempts, 1)

    def _due(self, now):
        return (
            WebhookEndpoint.state == EndpointState.active,
            or_(WebhookEndpoint.next_attempt_at.is_(None), WebhookEndpoint.next_attempt_at <= now),
            or_(WebhookEndpoint.lease_until.is_(None), WebhookEndpoint.lease_until < now),
        )

    def _claim(self) -> tuple[int, str] | None:
        now = utcnow()
        # A plain read first: an idle worker must not take SQLite's write lock at every poll.
        with PdiSession(self.engine) as session:
            last = last_cursor(session)
            candidate = session.exec(
                select(WebhookEndpoint.id).where(*self._due(now), WebhookEndpoint.cursor < last).limit(1)
            ).first()
        if candidate is None:
            return None
        with PdiSession(self._writer) as session:
            statement = (
                select(WebhookEndpoint)
                .where(*self._due(now), WebhookEndpoint.cursor < last_cursor(session))
                .order_by(
                    WebhookEndpoint.next_attempt_at.is_not(None), WebhookEndpoint.next_attempt_at, WebhookEndpoint.id
                )
                .limit(1)
            )
            if is_postgres(session):
                statement = statement.with_for_update(skip_locked=True)
            endpoint = session.exec(statement).first()
            if endpoint is None:
                return None
            token = uuid.uuid4().hex
            endpoint.lease_token = token
            endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
            session.add(endpoint)
            session.commit()
            return endpoint.id, token

    def _release(self, endpoint_id: int, token: str) -> None:
        try:
            with PdiSession(self._writer) as session:
                session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.lease_token == token)
                    .values(lease_token=None, lease_until=None)
                )
                session.commit()
        except SQLAlchemyError as exc:  # the lease lapses by itself
            log.info("webhook worker: lease of endpoint %s not released (%s)", endpoint_id, type(exc).__name__)

    def _deliver_next(self, client, endpoint_id: int, token: str) -> tuple[int, bool]:
        """Deliver the endpoint's next events, read in one page, one after the other until one
        fails; (attempts made, whether to go on with the next page)."""
        with PdiSession(self.engine) as session:
            endpoint = session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or endpoint.lease_token != token or endpoint.state != EndpointState.active:
                return 0, False
            created_by = session.get(ApiKey, endpoint.owner_key_id)
            owner = current_owner(session, created_by) if created_by is not None else None
            if owner is None:
                self._disable(endpoint_id, token, "the key that created it is revoked or expired")
                return 0, False
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
            return 0, False
        attempts = 0
        for item in page.items:
            if self.stop.is_set():
                return attempts, False
            event_id = str(item.cursor)
            body = event_body(item)
            headers = signed_headers(event_id=event_id, body=body, secrets=signing, now=utcnow())
            outcome = send(
                client=client, url=url, headers=headers, body=body, allow_private=self.settings.webhook_allow_private
            )
            attempts += 1
            if not self._record(endpoint_id, token, item.cursor, event_type(item), outcome) or not outcome.delivered:
                return attempts, False
        return attempts, True

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

    def _record(self, endpoint_id: int, token: str, cursor: int, kind: str, outcome: Outcome) -> bool:
        """The attempt in the log and the counters; on a 2xx the endpoint's progress, otherwise its
        next attempt (or its end: a 410, or five days of failures)."""
        now = utcnow()
        with PdiSession(self._writer) as session:
            endpoint = session.exec(
                select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
            ).first()
            next_attempt_at = None
            attempt = (endpoint.attempts if endpoint is not None else 0) + 1
            if endpoint is not None and endpoint.lease_token == token:
                if outcome.delivered:
                    endpoint.cursor = max(endpoint.cursor, cursor)
                    endpoint.attempts = 0
                    endpoint.failing_since = None
                    endpoint.next_attempt_at = None
                    endpoint.lease_until = now + timedelta(seconds=self.lease_seconds)
                else:
                    endpoint.attempts += 1
                    endpoint.failing_since = endpoint.failing_since or now
                    if outcome.status_code == 410:
                        reason = "the receiver answered 410 Gone"
                    elif now - endpoint.failing_since >= GIVE_UP_AFTER:
                        reason = "deliveries failed for 5 days"
                    else:
                        reason = None
                    if reason:
                        endpoint.state = EndpointState.disabled
                        endpoint.disabled_reason = reason
                        endpoint.next_attempt_at = None
                        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
                    else:
                        delay = next_delay(
                            attempts=endpoint.attempts,
                            schedule=self.schedule,
                            jitter=self.jitter,
                            rng=self.rng,
                            retry_after=outcome.retry_after,
                        )
                        next_attempt_at = endpoint.next_attempt_at = now + timedelta(seconds=delay)
                session.add(endpoint)
            if endpoint is not None:
                session.add(
                    WebhookDelivery(
                        endpoint_id=endpoint_id,
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
            self._count(session, outcome.outcome)
            session.commit()
            # Whether the lease still holds (the endpoint was neither deleted nor taken over).
            return endpoint is not None and endpoint.lease_token == token

    def _count(self, session: Session, outcome: str) -> None:
        done = session.execute(
            update(WebhookOutcomeCount)
            .where(WebhookOutcomeCount.outcome == outcome)
            .values(count=WebhookOutcomeCount.count + 1)
        ).rowcount
        if not done:
            session.add(WebhookOutcomeCount(outcome=outcome, count=1))
