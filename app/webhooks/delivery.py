"""One attempt to deliver one event: its body, its Standard Webhooks signature, the request.

The request goes to the address that was checked (app/webhooks/addresses.py), follows no
redirect, waits a bounded time for each step and reads a bounded part of the answer: a receiver
can neither reach the internal network nor hold a worker.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from app.changes.service import FeedItem
from app.webhooks.addresses import AddressRefused, resolve

log = logging.getLogger(__name__)

# SPEC C8: after a failure, the next attempt comes after these delays (± JITTER).
SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
JITTER = 0.10
# Failing this long (the schedule spent, then once a day) disables the endpoint.
GIVE_UP_AFTER = timedelta(days=5)
# A 2xx within this time is a delivery.
DEADLINE_SECONDS = 15.0
TIMEOUT = httpx.Timeout(connect=5.0, read=DEADLINE_SECONDS, write=10.0, pool=5.0)
MAX_ANSWER_BYTES = 64 * 1024
# A Retry-After is honoured, up to the schedule's longest delay.
MAX_RETRY_AFTER = max(SCHEDULE)
USER_AGENT = "catalogue-pdi-webhooks/1"


def event_type(item: FeedItem) -> str:
    return f"{item.kind}.{item.state}"


def event_body(item: FeedItem) -> str:
    """`{"type", "timestamp", "data": <the feed item>}`, as SPEC C8 writes it."""
    payload = {"type": event_type(item), "timestamp": item.modified.isoformat(), "data": item.as_json()}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def signed_headers(*, event_id: str, body: str, secrets: list[str], now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers; one signature per secret (two during a rotation),
    space-separated as the scheme allows."""
    now = now.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id=event_id, timestamp=now, data=body) for secret in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass
class Outcome:
    outcome: str  # delivered | http_error | transport_error | address_refused
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def new_client() -> httpx.Client:
    # No proxy from the environment: it would connect to names this code never checked.
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def send(*, client: httpx.Client, url: str, headers: dict[str, str], body: str, allow_private: bool) -> Outcome:
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve(url, allow_private=allow_private)
    except AddressRefused as exc:
        log.warning("webhook refused before connecting: %s", exc)
        return Outcome("address_refused", None, str(exc)[:300], elapsed_ms())
    parts = urlsplit(url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    pinned = urlunsplit((parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, ""))
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with client.stream(
            "POST", pinned, content=body.encode(), headers={**headers, "host": host}, extensions=extensions
        ) as answer:
            read = 0
            for chunk in answer.iter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES or time.monotonic() - started > DEADLINE_SECONDS:
                    break
            status = answer.status_code
            retry_after = _retry_after(answer.headers.get("retry-after"))
    except httpx.HTTPError as exc:
        return Outcome("transport_error", None, f"{type(exc).__name__}: {exc}"[:300], elapsed_ms())
    duration = elapsed_ms()
    if 200 <= status < 300 and duration <= DEADLINE_SECONDS * 1000:
        return Outcome("delivered", status, None, duration)
    error = None if status >= 300 else f"answered after {duration} ms (more than {DEADLINE_SECONDS:g} s)"
    return Outcome("http_error", status, error, duration, retry_after)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def next_delay(
    *, attempts: int, schedule: tuple[float, ...], jitter: float, rng: random.Random, retry_after: float | None
) -> float:
    """Seconds before the next attempt, after `attempts` failures: the schedule's delay (its last
    one repeated once it is spent) ± jitter, or the receiver's Retry-After when it asks for more."""
    base = schedule[min(attempts, len(schedule)) - 1]
    delay = base * (1 + rng.uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
