"""The bulkhead in front of heavy reads, and their cancellation when the client hangs up.

Heavy reads (indicators, the bilan, reports, exports) scan the pathways; a handful of them at
once could hold every connection of the pool, and the catalogue, availability and every write
would then wait and fail. So at most `limit` of them run at once per worker: one more is
answered 503 with `Retry-After` at once, before its key is looked up or a connection taken.
This sits in front of the routes' dependencies (the caller, the rate limits), as a plain ASGI
middleware, where other per-request guards (e.g. a cache of API keys) can sit beside it.

A heavy read whose client hangs up has its statements cancelled (PostgreSQL's cancel request,
SQLite's interrupt: `RequestConnections` in app/core/db.py) rather than running on for nobody;
every statement is bounded by the statement timeout anyway (PDI_DB_STATEMENT_TIMEOUT_MS).
"""

import asyncio
import logging
import threading
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import RequestConnections
from app.core.errors import problem, problem_response

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class HeavyReadBulkhead:
    def __init__(self, app: ASGIApp, *, prefixes: Sequence[str], limit: int):
        self.app = app
        self.prefixes = tuple(prefixes)
        self.limit = limit
        self._lock = threading.Lock()  # test clients drive one app from several event loops
        self.running = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        with self._lock:
            admitted = self.running < self.limit
            if admitted:
                self.running += 1
            else:
                self.refused += 1
        if not admitted:
            body = problem(
                503,
                "Service unavailable",
                f"At most {self.limit} heavy reads (indicators, bilan, reports, exports) run at once: "
                "try again shortly",
                slug="heavy-reads-busy",
            )
            await problem_response(body, {"Retry-After": str(RETRY_AFTER_SECONDS)})(scope, receive, send)
            return
        try:
            await cancelled_on_disconnect(self.app, scope, receive, send)
        finally:
            with self._lock:
                self.running -= 1


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
