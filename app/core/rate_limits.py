"""Rate limits (SPEC C2), counted by the `limits` library in memory or in a shared store.

Three budgets: anonymous calls per client address, calls per API key, and failed
authentications per client address. The caller dependency (app/auth/dependencies.py) spends
them, since only it knows which one a request belongs to; once an address has used up its
failures, its calls with a key that is not valid are refused (429) without a word on the key
(no guessing keys at speed), while a valid key from that address still passes: failures from
an address never lock its valid keys out. A moving window: a burst at the edge of a minute
cannot double the budget.

A shared store (Redis) is a dependency that can fail or stall: it is given connect and socket
timeouts (PDI_RATE_LIMIT_STORAGE_TIMEOUT_SECONDS), and when it fails requests are let through
(fail open), with one warning, a metric, and no new attempt for
PDI_RATE_LIMIT_STORAGE_RETRY_SECONDS (a stalled store costs one timeout, not one per request).
"""

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.core.config import Settings
from app.core.errors import AppError

log = logging.getLogger(__name__)


class TooManyRequests(AppError):
    status = 429
    title = "Too many requests"
    slug = "too-many-requests"


@dataclass(frozen=True)
class Budget:
    name: str
    items: tuple[RateLimitItem, ...]  # "10/second;100/minute" gives two

    @classmethod
    def parse(cls, name: str, notation: str) -> "Budget | None":
        """None when the setting is "0" or empty: that budget is off."""
        if notation.strip() in ("", "0"):
            return None
        return cls(name=name, items=tuple(parse_many(notation)))


class RateLimits:
    def __init__(self, settings: Settings):
        self.anonymous = Budget.parse("anonymous", settings.rate_limit_anonymous)
        self.per_key = Budget.parse("key", settings.rate_limit_key)
        self.auth_failures = Budget.parse("auth-failures", settings.rate_limit_auth_failures)
        self.limiter = MovingWindowRateLimiter(_storage(settings))
        # Counters in this process's memory: spending them never waits (callers on the event
        # loop may spend them there; a shared store is a network call).
        self.in_memory = settings.rate_limit_storage.startswith("memory")
        self.store = StoreHealth(retry_seconds=settings.rate_limit_storage_retry_seconds)

    def shared_connection(self):
        """The shared store's Redis client (the heavy reads' per-caller slots count there too),
        None when the counters are in this process's memory."""
        storage = self.limiter.storage
        return None if self.in_memory else getattr(storage, "get_connection", lambda: None)()

    def spend_anonymous(self, address: str) -> None:
        self._spend(self.anonymous, address, "Too many anonymous requests from this address")

    def spend_key(self, key_id: int | str) -> None:
        """A key's budget, or a person's (`Caller.rate_limit_id`): each has PDI_RATE_LIMIT_KEY."""
        self._spend(self.per_key, str(key_id), "Too many requests with this API key or token")

    def check_auth_failures(self, address: str) -> None:
        """429 while the address has no failed authentication left (checking spends nothing)."""
        budget = self.auth_failures
        if budget is None:
            return
        for item in budget.items:
            exhausted = self.store.call(lambda item=item: not self.limiter.test(item, budget.name, address), False)
            if exhausted:
                raise self._refusal(budget, item, address, "Too many failed authentications from this address")

    def spend_auth_failure(self, address: str) -> None:
        if self.auth_failures is not None:
            for item in self.auth_failures.items:
                self._hit(item, self.auth_failures.name, address)

    def _spend(self, budget: Budget | None, who: str, detail: str) -> None:
        if budget is None:
            return
        for item in budget.items:
            if not self._hit(item, budget.name, who):
                raise self._refusal(budget, item, who, detail)

    def _hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self.store.call(lambda: self.limiter.hit(item, *identifiers), True)

    def _refusal(self, budget: Budget, item: RateLimitItem, who: str, detail: str) -> TooManyRequests:
        stats = self.store.call(lambda: self.limiter.get_window_stats(item, budget.name, who), None)
        reset_at = stats.reset_time if stats is not None else time.time() + 1
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return TooManyRequests(f"{detail}: at most {item}", headers={"Retry-After": str(retry_after)})


def _storage(settings: Settings):
    uri = settings.rate_limit_storage
    if uri.startswith(("redis://", "rediss://", "redis+")):
        timeout = settings.rate_limit_storage_timeout_seconds
        # Without these a stalled Redis holds every request, /healthz included, for ever.
        return storage_from_string(uri, socket_timeout=timeout, socket_connect_timeout=timeout)
    return storage_from_string(uri)


class StoreHealth:
    """Calls to the counters' store, failing open: an error or a timeout lets the request
    through, warns once (until the store answers again), counts, and skips the store for
    `retry_seconds`, so that a stalled store costs one timeout per period, not one per request."""

    def __init__(self, *, retry_seconds: float):
        self.retry_seconds = retry_seconds
        self.failures = 0
        self._down_until = 0.0
        self._down = False
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return not self._down

    def call(self, attempt, fallback):
        if self._down and time.monotonic() < self._down_until:
            return fallback
        try:
            result = attempt()
        except Exception as exc:  # the shared store is down or stalled: serve rather than refuse everyone
            with self._lock:
                self.failures += 1
                self._down_until = time.monotonic() + self.retry_seconds
                warn, self._down = not self._down, True
            if warn:
                log.warning(
                    "rate limit store unreachable (%s): requests let through, next try in %g s",
                    type(exc).__name__,
                    self.retry_seconds,
                )
            return fallback
        if self._down:
            with self._lock:
                self._down = False
            log.warning("rate limit store answers again: limits enforced")
        return result

    def metrics(self) -> list[Metric]:
        return [
            CounterMetricFamily(
                "pdi_rate_limit_store_failures",
                "Calls to the rate limits' store that failed or timed out (requests let through)",
                value=self.failures,
            ),
            GaugeMetricFamily(
                "pdi_rate_limit_store_up", "Whether the rate limits' store answered its last call", value=int(self.up)
            ),
        ]
