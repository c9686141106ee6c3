"""Rate limits (SPEC C2), counted by the `limits` library in memory or in a shared store.

Three budgets: anonymous calls per client address, calls per API key, and failed
authentications per client address. The caller dependency (app/auth/dependencies.py) spends
them, since only it knows which one a request belongs to; once an address has used up its
failures, its keyed calls are refused before the key is even looked up (no guessing keys at
speed). A moving window: a burst at the edge of a minute cannot double the budget.
"""

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

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
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))

    def spend_anonymous(self, address: str) -> None:
        self._spend(self.anonymous, address, "Too many anonymous requests from this address")

    def spend_key(self, key_id: int) -> None:
        self._spend(self.per_key, str(key_id), "Too many requests with this API key")

    def check_auth_failures(self, address: str) -> None:
        """429 while the address has no failed authentication left (checking spends nothing)."""
        budget = self.auth_failures
        if budget is None:
            return
        for item in budget.items:
            try:
                exhausted = not self.limiter.test(item, budget.name, address)
            except Exception as exc:
                log.warning("rate limit store unreachable, request let through (%s)", type(exc).__name__)
                return
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
        try:
            return self.limiter.hit(item, *identifiers)
        except Exception as exc:  # the shared store is down: serve rather than refuse everyone
            log.warning("rate limit store unreachable, request let through (%s)", type(exc).__name__)
            return True

    def _refusal(self, budget: Budget, item: RateLimitItem, who: str, detail: str) -> TooManyRequests:
        reset_at = self.limiter.get_window_stats(item, budget.name, who).reset_time
        retry_after = max(1, math.ceil(reset_at - time.time()))
        return TooManyRequests(f"{detail}: at most {item}", headers={"Retry-After": str(retry_after)})
