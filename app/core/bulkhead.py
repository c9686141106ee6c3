"""The bulkhead in front of heavy reads, and their cancellation when the client hangs up.

Heavy reads (indicators, the bilan, reports, exports) scan the pathways; a handful of them at
once could hold every connection of the pool, and the catalogue, availability and every write
would then wait and fail. So at most `limit` of them run at once per worker, and no caller may
take them all: each caller (a key, a person: `Caller.identity`) runs `per_caller` at a time (one),
anonymous callers together `anonymous` (one). A read beyond is answered 503 with `Retry-After` at
once, before any connection is taken for it: one caller flooding is turned away, never another.

The middleware marks a heavy read (`HeavyReadTicket` in its scope) and gives its slot back when it
ends; the caller is admitted once it is known, by a dependency every route runs right after the
caller's (`admit_heavy_read` in app/auth/dependencies.py): a key in the key cache costs no
database, a flood of them none either.

A heavy read whose client hangs up has its statements cancelled (PostgreSQL's cancel request,
SQLite's interrupt: `RequestConnections` in app/core/budgets.py) rather than running on for nobody;
every statement is bounded by the statement timeout anyway (PDI_DB_STATEMENT_TIMEOUT_MS).
"""

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.budgets import RequestConnections
from app.core.errors import AppError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# The slot anonymous callers share, in the per-caller counts.
ANONYMOUS = "anonymous"


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
        name, most = (identity, self.per_caller) if identity is not None else (ANONYMOUS, self.anonymous)
        with self._lock:
            if self.by_caller[name] < most and self.running < self.limit:
                self.running += 1
                self.by_caller[name] += 1
                return name
            self.refused += 1
            full = self.running >= self.limit
        if full:
            detail = f"At most {self.limit} heavy reads (indicators, bilan, reports, exports) run at once"
        elif identity is None:
            detail = f"Anonymous callers together run at most {most} heavy read(s) at once"
        else:
            detail = f"A caller runs at most {most} heavy read(s) at once: wait for yours to finish"
        raise HeavyReadsBusy(f"{detail}: try again shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    def give_back(self, name: str) -> None:
        with self._lock:
            self.running -= 1
            self.by_caller[name] -= 1
            if not self.by_caller[name]:
                del self.by_caller[name]


class HeavyReadTicket:
    """One heavy read's place: admitted (`admit`) once its caller is known, given back when the
    request ends, whatever happened between."""

    _SCOPE_KEY = "pdi.heavy_read"

    def __init__(self, slots: HeavyReadSlots):
        self.slots = slots
        self.held: str | None = None

    @classmethod
    def of(cls, scope: Scope) -> "HeavyReadTicket | None":
        return scope.get("state", {}).get(cls._SCOPE_KEY)

    def admit(self, identity: str | None) -> None:
        if self.held is None:
            self.held = self.slots.take(identity)

    def give_back(self) -> None:
        if self.held is not None:
            self.slots.give_back(self.held)
            self.held = None


class HeavyReadBulkhead:
    def __init__(self, app: ASGIApp, *, prefixes: Sequence[str], limit: int, per_caller: int = 1, anonymous: int = 1):
        self.app = app
        self.prefixes = tuple(prefixes)
        self.slots = HeavyReadSlots(limit=limit, per_caller=per_caller, anonymous=anonymous)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.slots.limit <= 0 or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        ticket = HeavyReadTicket(self.slots)
        scope.setdefault("state", {})[HeavyReadTicket._SCOPE_KEY] = ticket
        try:
            await cancelled_on_disconnect(self.app, scope, receive, send)
        finally:
            ticket.give_back()


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
