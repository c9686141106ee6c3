"""A caught-up client's poll of the change feed answered before routing.

Most polls of the feed come from clients that have read everything: `GET /changes?after=<the
last cursor>`, answered `{"items": [], "next": <after>}`. The route already answers them from
the feed watch's cursor (app/changes/router.py) without reading the feed; this middleware gives
the same answer before routing, dependencies and the session, whose cost alone was twice a static
GET's (issue 37). It answers only what it can answer as the route would:

- while the watch knows the cursor (app/availability/cache.py's `FeedWatch`; PostgreSQL), and
  `after` is at or past it;
- a query of `after` and at most `limit`, each once, in the route's bounds (anything else, the
  route validates: 422);
- a caller known without the database, its budget spent (app/auth/from_memory.py).

As in the route, the watch's cursor may lag a commit by the moment its notice takes: the poller,
which keeps `after`, then gets that change on its next poll; nothing is skipped.
"""

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.from_memory import known_caller, spend
from app.auth.key_cache import KeyCache
from app.availability.cache import FeedWatch
from app.changes.router import MAX_AFTER, MAX_LIMIT
from app.changes.service import FeedPage
from app.core.rate_limits import RateLimits


def caught_up_after(query_string: bytes, cursor: int) -> int | None:
    """The query's `after` when it asks for nothing beyond `cursor` and is one the route takes
    as it stands; None otherwise (the route answers)."""
    try:
        query = parse_qsl(query_string.decode("ascii"), keep_blank_values=True, strict_parsing=bool(query_string))
    except (UnicodeDecodeError, ValueError):
        return None
    names = [name for name, _value in query]
    if "after" not in names or len(set(names)) != len(names) or not set(names) <= {"after", "limit"}:
        return None
    values = dict(query)
    if not all(value.isascii() and value.isdigit() for value in values.values()):
        return None
    after = int(values["after"])
    if not cursor <= after <= MAX_AFTER:
        return None
    if "limit" in values and not 1 <= int(values["limit"]) <= MAX_LIMIT:
        return None
    return after


class CaughtUpFeed:
    """ASGI middleware: `GET <path>` of a caught-up client answered from the feed watch."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        watch: FeedWatch | None,
        limits: RateLimits,
        keys: KeyCache | None = None,
    ):
        self.app = app
        self.path = path
        self.watch = watch
        self.limits = limits
        self.keys = keys
        self.route: object | None = None  # the route's, for /metrics' label (found at first use)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self._answer(scope) if scope["type"] == "http" else None
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route(scope)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _answer(self, scope: Scope) -> bytes | None:
        cursor = self.watch.current if self.watch is not None else None
        if cursor is None or scope["method"] != "GET" or scope["path"] != self.path:
            return None
        after = caught_up_after(scope["query_string"], cursor)
        if after is None:
            return None
        known = known_caller(scope, self.keys)
        if known is None or not spend(known, scope, self.limits, self.keys):
            return None
        return FeedPage(items=[], next=after).json()

    def _route(self, scope: Scope) -> object | None:
        if self.route is None:
            routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
            self.route = next((route for route in routes if getattr(route, "path", None) == self.path), None)
        return self.route
