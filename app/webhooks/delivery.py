"""One attempt to deliver one event: its body, its Standard Webhooks signature, the request.

The request goes to the address that was checked (app/webhooks/addresses.py), follows no
redirect and reads a bounded part of the answer. Every blocking step of an attempt (the name's
resolution, the connection, TLS, sending, the answer's head and body) waits at most until the
attempt's one deadline (`Deadline`): a receiver that drips its answer a byte at a time cannot
hold a delivery thread past it, as per-step timeouts alone would let it.
"""

import json
import logging
import random
import ssl
import threading
import time
import typing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from standardwebhooks import Webhook

from app.changes.service import FeedItem
from app.webhooks.addresses import AddressRefused, resolve, where

log = logging.getLogger(__name__)

# SPEC C8: after a failure, the next attempt comes after these delays (± JITTER).
SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
JITTER = 0.10
# Failing this long (the schedule spent, then once a day) disables the endpoint.
GIVE_UP_AFTER = timedelta(days=5)
# A 2xx within this time is a delivery (PDI_WEBHOOK_ATTEMPT_SECONDS may shorten it).
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


class _Deadline(threading.local):
    """The deadline of the attempt this thread is making (time.monotonic()), None between attempts."""

    at: float | None = None
    seconds: float = DEADLINE_SECONDS


_deadline = _Deadline()


def _bounded(timeout: float | None, timed_out: type[Exception]) -> float | None:
    """A step's timeout cut to what is left of the attempt; `timed_out` once nothing is left."""
    if _deadline.at is None:
        return timeout
    left = _deadline.at - time.monotonic()
    if left <= 0:
        raise timed_out(f"no complete answer within {_deadline.seconds:.3g} s")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the attempt's deadline. A
    write is one send of a body far smaller than a socket's buffer, so it does not wait on the
    receiver reading it."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are never sent to a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on connections bounded by the attempt's deadline. httpx takes no network
    backend, so its connection pool is built again with one."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=_DeadlineBackend())


def new_client() -> httpx.Client:
    # No proxy from the environment: it would connect to names this code never checked.
    return httpx.Client(transport=_DeadlineTransport(), timeout=TIMEOUT, follow_redirects=False, trust_env=False)


def send(
    *,
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    body: str,
    allow_private: bool,
    deadline_seconds: float = DEADLINE_SECONDS,
) -> Outcome:
    """One attempt, over within `deadline_seconds` whatever the receiver does. Whatever fails in
    it (the address, the network, a URL httpx cannot send) is its outcome, never an exception."""
    started = time.monotonic()
    _deadline.at, _deadline.seconds = started + deadline_seconds, deadline_seconds
    try:
        return _attempt(client=client, url=url, headers=headers, body=body, allow_private=allow_private)
    except AddressRefused as exc:
        log.warning("webhook to %s refused before connecting: %s", where(url), exc)
        return Outcome("address_refused", None, str(exc)[:300], _ms_since(started))
    except Exception as exc:  # httpx's errors, and e.g. InvalidURL or UnicodeError from a URL it cannot send
        log.info("webhook to %s failed: %s", where(url), type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= _deadline.at:
            error = f"{type(exc).__name__}: no complete answer within {deadline_seconds:.3g} s"
        else:
            error = f"{type(exc).__name__}: {exc}"
        return Outcome("transport_error", None, error[:300], _ms_since(started))
    finally:
        _deadline.at = None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _attempt(*, client: httpx.Client, url: str, headers: dict[str, str], body: str, allow_private: bool) -> Outcome:
    started = time.monotonic()
    target = resolve(url, allow_private=allow_private, timeout=_bounded(None, AddressRefused))
    parts = urlsplit(url)
    address = f"[{target.address}]" if ":" in target.address else target.address
    pinned = urlunsplit((parts.scheme, f"{address}:{target.port}", parts.path or "/", parts.query, ""))
    host = target.host if parts.port is None else f"{target.host}:{parts.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    with client.stream(
        "POST", pinned, content=body.encode(), headers={**headers, "host": host}, extensions=extensions
    ) as answer:
        read = 0
        for chunk in answer.iter_raw():
            read += len(chunk)
            if read >= MAX_ANSWER_BYTES:
                break
        status = answer.status_code
        retry_after = _retry_after(answer.headers.get("retry-after"))
    duration = _ms_since(started)
    if 200 <= status < 300:
        return Outcome("delivered", status, None, duration)
    return Outcome("http_error", status, None, duration, retry_after)


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
