"""The bulkhead in front of heavy reads, and their cancellation when the client hangs up.

Heavy reads (indicators, the bilan, reports, exports) scan the pathways; a handful of them at
once could hold every connection of the pool, and the catalogue, availability and every write
would then wait and fail. So at most `limit` of them run at once per worker, and no caller may
take them all: each caller (a key, a person: `Caller.identity`) runs `per_caller` at a time (one),
anonymous callers together `anonymous` (one). A read beyond is answered 503 with `Retry-After` at
once, before any connection is taken for it: one caller flooding is turned away, never another.

The per-caller counts hold across workers when the rate limits have a shared store (Redis, as
Compose sets it): without it, one key with two workers would run two heavy reads at once, each a
bilan taking a core. In the store each of a caller's slots is a key set only if absent, with a
lease (LEASE_SECONDS: a worker that dies holding one frees it by then), deleted by its holder
when the read ends. A store that fails lets the read through on the worker's own count (the
rate limits' rule: fail open, one warning, skipped for a while).

The middleware marks a heavy read (`HeavyReadTicket` in its scope) and gives its slot back when it
ends; the caller is admitted once it is known, by a dependency every route runs right after the
caller's (`admit_heavy_read` in app/auth/dependencies.py): a key in the key cache costs no
database, a flood of them none either.

A heavy read's plans use at most PDI_HEAVY_READS_PARALLEL_WORKERS of PostgreSQL's parallel workers
(none by default: on a small host a bilan in parallel takes every core from the writes and polls).

A heavy read whose client hangs up has its statements cancelled (PostgreSQL's cancel request,
SQLite's interrupt: `RequestConnections` in app/core/budgets.py) rather than running on for nobody;
every statement is bounded by the statement timeout anyway (PDI_DB_STATEMENT_TIMEOUT_MS).
"""

import asyncio
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.budgets import RequestConnections
from app.core.errors import AppError
from app.core.rate_limits import RateLimits

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# The slot anonymous callers share, in the per-caller counts.
ANONYMOUS = "anonymous"
# How long a slot in the shared store outlives a worker that died holding it (seconds): longer
# than a heavy read under admin's statement budget usually runs, short enough not to lock a
# caller out for long.
LEASE_SECONDS = 120
# Frees a slot only for its holder: a lease that lapsed and was taken again is not the old holder's.
RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


# Where a heavy read's request notes the parallel workers its transactions may use (the
# sessions of app/core/db.py read it: `parallel_workers_of`).
PARALLEL_WORKERS_KEY = "pdi.parallel_workers"


def parallel_workers_of(scope: Scope) -> int | None:
    """The parallel workers a heavy read's plans may use; None for any other request (the
    database's own setting)."""
    return scope.get("state", {}).get(PARALLEL_WORKERS_KEY)


class HeavyReadsBusy(AppError):
    status = 503
    title = "Service unavailable"
    slug = "heavy-reads-busy"


class HeavyReadSlots:
    """The counts: heavy reads running in all, and per caller (anonymous ones under one name)."""

    def __init__(self, *, limit: int, per_caller: int, anonymous: int):
        self.limit, self.per_caller, self.anonymous = limit, per_caller, anonymous
        self._lock = threading.Lock()  # test clients drive one app from several event loops
        self.running = 0
        self.by_caller: Counter[str] = Counter()
        self.refused = 0

    def take(self, identity: str | None) -> str:
        """A slot for the caller (None: anonymous), or HeavyReadsBusy; the name it is held under."""
        name, most = self.name_and_most(identity)
        with self._lock:
            if self.by_caller[name] < most and self.running < self.limit:
                self.running += 1
                self.by_caller[name] += 1
                return name
            self.refused += 1
            full = self.running >= self.limit
        if full:
            raise self.busy(f"At most {self.limit} heavy reads (indicators, bilan, reports, exports) run at once")
        raise self.busy_for(identity)

    def name_and_most(self, identity: str | None) -> tuple[str, int]:
        return (identity, self.per_caller) if identity is not None else (ANONYMOUS, self.anonymous)

    def busy_for(self, identity: str | None) -> "HeavyReadsBusy":
        if identity is None:
            return self.busy(f"Anonymous callers together run at most {self.anonymous} heavy read(s) at once")
        return self.busy(f"A caller runs at most {self.per_caller} heavy read(s) at once: wait for yours to finish")

    @staticmethod
    def busy(detail: str) -> "HeavyReadsBusy":
        return HeavyReadsBusy(f"{detail}: try again shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    def give_back(self, name: str) -> None:
        with self._lock:
            self.running -= 1
            self.by_caller[name] -= 1
            if not self.by_caller[name]:
                del self.by_caller[name]


class SharedCallerSlots:
    """Each caller's slots across workers, in the rate limits' shared store (see the module's
    docstring). `take` and `give_back` are network calls: callers run them off the event loop."""

    KEY_PREFIX = "pdi:heavy-read:"

    def __init__(self, limits: RateLimits, *, lease_seconds: float = LEASE_SECONDS):
        self.connection = limits.shared_connection()
        self.store = limits.store
        self.lease_ms = int(lease_seconds * 1000)
        self.release = self.connection.register_script(RELEASE_SCRIPT) if self.connection is not None else None

    @property
    def shared(self) -> bool:
        return self.connection is not None

    def take(self, name: str, most: int) -> tuple[str, str] | None:
        """A slot of `name`'s `most` (its key in the store, the holder's token); None when all
        are held elsewhere. When the store fails: a slot of nobody's ("", ""), the read let through."""
        token = uuid.uuid4().hex

        def attempt() -> tuple[str, str] | None:
            for number in range(most):
                key = f"{self.KEY_PREFIX}{name}:{number}"
                if self.connection.set(key, token, nx=True, px=self.lease_ms):
                    return key, token
            return None

        return self.store.call(attempt, ("", ""))

    def give_back(self, held: tuple[str, str]) -> None:
        key, token = held
        if key:
            self.store.call(lambda: self.release(keys=[key], args=[token]), None)


class HeavyReadTicket:
    """One heavy read's place: admitted (`admit`) once its caller is known, given back when the
    request ends, whatever happened between."""

    _SCOPE_KEY = "pdi.heavy_read"

    def __init__(self, slots: HeavyReadSlots, shared: SharedCallerSlots | None = None):
        self.slots = slots
        self.shared = shared
        self.held: str | None = None
        self.held_shared: tuple[str, str] | None = None

    @classmethod
    def of(cls, scope: Scope) -> "HeavyReadTicket | None":
        return scope.get("state", {}).get(cls._SCOPE_KEY)

    async def admit(self, identity: str | None) -> None:
        if self.held is not None:
            return
        self.held = self.slots.take(identity)
        if self.shared is None:
            return
        name, most = self.slots.name_and_most(identity)
        self.held_shared = await run_in_threadpool(self.shared.take, name, most)
        if self.held_shared is None:  # the caller's slots are held by reads on other workers
            self.give_back_here()
            raise self.slots.busy_for(identity)

    def give_back_here(self) -> None:
        if self.held is not None:
            self.slots.give_back(self.held)
            self.held = None

    async def give_back(self) -> None:
        self.give_back_here()
        if self.held_shared is not None:
            held, self.held_shared = self.held_shared, None
            await run_in_threadpool(self.shared.give_back, held)


class HeavyReadBulkhead:
    def __init__(
        self,
        app: ASGIApp,
        *,
        prefixes: Sequence[str],
        limit: int,
        per_caller: int = 1,
        anonymous: int = 1,
        limits: RateLimits | None = None,
        parallel_workers: int | None = None,
    ):
        self.app = app
        self.prefixes = tuple(prefixes)
        self.parallel_workers = parallel_workers
        self.slots = HeavyReadSlots(limit=limit, per_caller=per_caller, anonymous=anonymous)
        shared = SharedCallerSlots(limits) if limits is not None else None
        self.shared = shared if shared is not None and shared.shared else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        heavy = scope["type"] == "http" and scope["path"].startswith(self.prefixes)
        if heavy and self.parallel_workers is not None:
            scope.setdefault("state", {})[PARALLEL_WORKERS_KEY] = self.parallel_workers
        if not heavy or self.slots.limit <= 0:
            await self.app(scope, receive, send)
            return
        ticket = HeavyReadTicket(self.slots, self.shared)
        scope.setdefault("state", {})[HeavyReadTicket._SCOPE_KEY] = ticket

        async def send_then_free(message: Message) -> None:
            # Freed before the response's end reaches the client: a client that asks again as
            # soon as it is answered (on any worker) finds its slot free, not still held.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                await ticket.give_back()
            await send(message)

        try:
            await cancelled_on_disconnect(self.app, scope, receive, send_then_free)
        finally:
            await ticket.give_back()


async def cancelled_on_disconnect(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run the request; if its client disconnects before the response is done, cancel the
    database statements it is running (its sync route then fails, and nobody waits for it)."""
    connections = RequestConnections.install(scope)
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    responded = False

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if not responded:
                    cancelled = connections.cancel()
                    log.info("client disconnected: %d database statement(s) cancelled", cancelled)
                await inbox.put(message)
                return
            await inbox.put(message)

    async def app_send(message: Message) -> None:
        nonlocal responded
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            responded = True
        await send(message)

    watcher = asyncio.create_task(watch())
    try:
        await app(scope, inbox.get, app_send)
    finally:
        responded = True
        watcher.cancel()
