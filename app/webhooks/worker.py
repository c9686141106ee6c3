"""`pdi worker`: delivers webhooks, and ticks the timer of the periodic jobs it is given (app/jobs.py).

Per endpoint, events go out one at a time in feed order: the next waits until the previous is
delivered (or the endpoint is disabled). Progress is the endpoint's `cursor`, committed only
after a 2xx, so a worker or a database that stops loses nothing: the event in flight is sent
again (at least once, with the same webhook-id).

Several workers share the endpoints by leases: a worker claims an endpoint in a short writer
transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that claimers never wait on each
other; SQLite's one write lock on SQLite), delivers with no transaction open, and writes the
outcome in another short one, checking that its lease still holds (app/webhooks/leases.py). No transaction stays open
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
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from app.auth.models import ApiKey, Role
from app.changes.service import list_changes
from app.core.caller import Caller
from app.core.config import Settings
from app.core.db import PdiSession
from app.core.engines import writer_engine
from app.core.periodic import JobTimer, PeriodicJob
from app.core.time import today as paris_today
from app.core.time import utcnow
from app.outbox.service import last_cursor
from app.webhooks import leases, secrets
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
from app.webhooks.leases import Lease
from app.webhooks.models import EndpointState, WebhookDelivery, WebhookEndpoint, WebhookOutcomeCount
from app.webhooks.service import current_owner

log = logging.getLogger(__name__)

# A turn: the feed items read at once for one endpoint, delivered one after the other, each
# recorded; then the endpoint goes back to the queue, behind the other owners' (fairness).
PAGE = 50
# The part of a lease no attempt may use: the outcome must be written while the lease holds.
LEASE_MARGIN = 0.2


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
    # What else the worker runs on a timer (app/jobs.py): none unless given.
    jobs: list[PeriodicJob] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.lease_seconds is None:
            self.lease_seconds = self.settings.worker_lease_seconds
        self._writer = writer_engine(self.engine)
        self._timer = JobTimer(self.jobs, self._writer)
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
        self._timer.run_due()

    # --- one endpoint ---------------------------------------------------------------------------

    def deliver_one_endpoint(self, client) -> int:
        """Claim one endpoint that has work and deliver its events of one page in order, until one
        fails; the attempts made (0: nothing was due). Whatever else goes wrong in the turn puts
        the endpoint's next attempt off as a failure would."""
        lease = leases.claim(self.engine, self._writer, lease_seconds=self.lease_seconds)
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

    def _release(self, lease: Lease) -> None:
        try:
            leases.release(self._writer, lease)
        except SQLAlchemyError as exc:  # the lease lapses by itself
            log.info("webhook worker: lease of endpoint %s not released (%s)", lease.endpoint_id, type(exc).__name__)

    def _attempt_seconds(self, lease: Lease) -> float | None:
        """How long the next attempt may take: PDI_WEBHOOK_ATTEMPT_SECONDS, cut so that it ends
        before the lease does (renewed first when too little is left); None if the lease was lost."""
        margin = self.lease_seconds * LEASE_MARGIN
        wanted = self.settings.webhook_attempt_seconds
        if lease.ends - time.monotonic() - margin < wanted:
            if not leases.renew(self._writer, lease, lease_seconds=self.lease_seconds):
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
                reason = "the key that created it is revoked or expired"
                leases.disable(self._writer, endpoint_id, token, reason)
                log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
                return 0
            if owner.id != endpoint.owner_key_id:  # rotated: the new key owns it, with its rights
                leases.change_owner(self._writer, endpoint_id, token, owner.id)
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
            leases.advance(self._writer, endpoint_id, token, cursor_before, scanned_to)
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
