"""Availability's answers kept in memory, for the portal's polling (SPEC C5).

A page of availability depends on its question (the query string), the day, and the data; and the
change feed's last cursor moves with every committed write (app/outbox/service.py). So the route
keeps each page it builds under its ETag, which names all three (app/availability/router.py), and
while the cursor has not moved the same question is answered from memory, before routing,
dependencies or the database: a 200 with the kept body, or a 304 when `If-None-Match` names it.

Knowing the cursor without asking the database: on PostgreSQL every transaction that writes the
feed sends `NOTIFY pdi_feed, '<its last cursor>'`, delivered when it commits, and each worker's
`FeedWatch` listens on a connection of its own. Until the watch listens (start-up, a lost
connection, SQLite, which has no NOTIFY), nothing is answered from memory: every request takes
the route, which reads the cursor itself. The watch reads the cursor itself every
RECHECK_SECONDS, bounded by RECHECK_TIMEOUT_SECONDS (a backend that stalls without closing its
connection would otherwise hold the watch, and stale pages, for as long as it stalls); a watch
that has not heard from the database for longer than that serves nothing, and a failed watch
drops the pages it kept until it listens again. A page may therefore be served for the moment between
a commit and its notice (milliseconds); the `Cache-Control` of these pages already allows sixty
seconds.

Once the cursor moves, the last page of a question stays the answer for a while
(PDI_AVAILABILITY_STALE_SECONDS, `stale_seconds`: one second by default, well within the minute
`Cache-Control` already lets any cache keep it). Within that period from its build, polls get it
as it is; within twice that period, they get it while the service builds the next page in the
background (a GET of its own through the application, anonymous, spending nobody's budget); past
that, or without a page yet, the poll takes the route and builds it. Under writes that never stop
(prescriptions every few hundred ms), each worker thus builds a question's page about once a
period, off every poll's path: before, every commit made the next poll build the page, and the
portals polling at their pace waited for a build at almost every poll (issue 37's mix: 1,124 of
1,200 polls, p95 23 times alone). So a page reflects a write about one to two periods after it.

While a page is being built (in the background or by a poll), the others asking the same
question get the last page built, for at most BUILD_STALE_SECONDS: without it every poller asking
during a build ran the same build, and under writes the pollers' queries filled the database
(issue 21's mix: p95 461 ms against 4.8 ms alone).

A request with a key is answered here once the worker's key cache knows the key valid
(app/auth/from_memory.py; app/auth/key_cache.py: expiry checked at each use, revocations heard on
`pdi_keys` by the same watch): the page is the same for every caller, anonymous or not, whatever
the role (it holds no personal data). Any other `Authorization` header takes the route, which
checks it (401 for a bad one) and keeps a valid key in the cache. A request spends its budget here
as the route would; over it, the route answers the 429. The key's last use is written by the
watch's thread, at most once a minute, within a second.
"""

import asyncio
import hashlib
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl

import psycopg
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import make_url
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.dependencies import UNMETERED
from app.auth.from_memory import known_caller, spend
from app.auth.key_cache import KEYS_CHANNEL, KeyCache
from app.core import time as clock
from app.core.rate_limits import RateLimits
from app.outbox.service import FEED_CHANNEL, LAST_CURSOR_SQL

log = logging.getLogger(__name__)

# The same body for every caller (no personal data), so shared caches may keep it; one minute
# bounds how stale the portal's view of free places can be.
CACHE_CONTROL = "public, max-age=60"
# Pages kept per worker; the least recently served goes first.
KEPT_PAGES = 256
# How often the watch also reads the cursor itself, and how long that read may take (seconds).
RECHECK_SECONDS = 10
RECHECK_TIMEOUT_SECONDS = 2
# How long the last page of a question is served while its next page is being built: a build that
# takes longer (a database in trouble) no longer holds the others, who then take the route too.
BUILD_STALE_SECONDS = 5.0

Question = tuple[tuple[tuple[str, str], ...], str]


def question_of(query: Iterable[tuple[str, str]], day_iso: str) -> Question:
    """What a page answers: the query parameters but `on`, sorted, and the day."""
    return tuple(sorted((name, value) for name, value in query if name != "on")), day_iso


def etag_for(query: Iterable[tuple[str, str]], day_iso: str, cursor: int) -> str:
    """The ETag of a page: its question (the query parameters but `on`, sorted), its day, and the
    feed's cursor (which moves with every committed write)."""
    question, day = question_of(query, day_iso)
    return '"' + hashlib.sha256(repr((list(question), day, cursor)).encode()).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 §13.1.2): a W/ prefix added by a proxy still matches.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class PageCache:
    """Bodies of availability pages by ETag, the most recently served kept, the last built of
    each question and when, and the questions being built (thread-safe: the route stores from
    the threadpool, the middleware reads on the event loop)."""

    def __init__(
        self, size: int = KEPT_PAGES, *, stale_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic
    ):
        self.size = size
        self.stale_seconds = stale_seconds
        self.clock = clock
        self.pages: OrderedDict[str, bytes] = OrderedDict()
        self.latest: dict[Question, tuple[str, float]] = {}  # each question's last page built: ETag, when
        self.builds: dict[Question, float] = {}  # when the build in flight began
        self.lock = threading.Lock()
        self.route: object | None = None  # the route that built them

    def get(self, etag: str) -> bytes | None:
        with self.lock:
            body = self.pages.get(etag)
            if body is not None:
                self.pages.move_to_end(etag)
            return body

    def put(self, etag: str, body: bytes, *, route: object, question: Question) -> None:
        with self.lock:
            self.route = route
            self.pages[etag] = body
            self.pages.move_to_end(etag)
            self.latest[question] = etag, self.clock()
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)
            if len(self.latest) > self.size:
                self.latest = {question: last for question, last in self.latest.items() if last[0] in self.pages}

    def last_page(self, question: Question) -> tuple[str, bytes, float | None] | None:
        """The last page of `question` to answer with though the data moved since: its ETag, its
        body, and when the caller is to build the next one in the background, the mark of that
        build (noted as being built; `end_build` when done); None when the poll is to build it
        (see the module's docstring)."""
        with self.lock:
            etag, built_at = self.latest.get(question, (None, 0.0))
            body = self.pages.get(etag) if etag is not None else None
            if body is None:
                return None
            now = self.clock()
            began = self.builds.get(question)
            if began is not None and now - began <= BUILD_STALE_SECONDS:
                return etag, body, None
            age = now - built_at
            if age <= self.stale_seconds:
                return etag, body, None
            if age <= 2 * self.stale_seconds:
                self.builds[question] = now
                return etag, body, now
            return None

    def claim_build(self, question: Question) -> float | None:
        """Note that `question`'s page is being built, unless a build noted earlier still runs
        within its time; the mark to give to `end_build`, or None when it is not ours."""
        with self.lock:
            now = self.clock()
            began = self.builds.get(question)
            if began is not None and now - began <= BUILD_STALE_SECONDS:
                return None
            self.builds[question] = now
            return now

    def end_build(self, question: Question, began: float | None) -> None:
        if began is None:
            return
        with self.lock:
            if self.builds.get(question) == began:
                del self.builds[question]

    @contextmanager
    def building(self, question: Question) -> Iterator[None]:
        """While the route builds `question`'s page for a poll: the others get the last page."""
        began = self.claim_build(question)
        try:
            yield
        finally:
            self.end_build(question, began)

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()
            self.latest.clear()


class FeedWatch:
    """The feed's last cursor, kept by listening to `pdi_feed` on a connection of its own (one
    thread per worker). `current` is None whenever it is not listening, or has not heard from the
    database lately; `on_lost` runs when a connection that listened fails. With `keys`, it also
    listens to `pdi_keys` and clears that key cache on each notice, and on each new connection."""

    APPLICATION_NAME = "pdi-feed-watch"

    def __init__(
        self,
        database_url: str,
        *,
        on_lost: Callable[[], None] | None = None,
        keys: KeyCache | None = None,
    ):
        self.url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.cursor: int | None = None
        self.heard_at = 0.0  # when the database last answered or notified (monotonic)
        self.on_lost = on_lost
        # The worker's key cache hears revocations on this connection too (KEYS_CHANNEL), and
        # the uses of keys answered from memory are written from this thread (app/auth/key_cache.py).
        self.keys = keys
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feed-watch", daemon=True)

    @property
    def current(self) -> int | None:
        """The cursor, while the watch listens and its database has answered lately."""
        cursor = self.cursor
        fresh = time.monotonic() - self.heard_at < RECHECK_SECONDS + RECHECK_TIMEOUT_SECONDS + 2
        return cursor if fresh else None

    def metrics(self) -> list[GaugeMetricFamily]:
        """`pdi_feed_watch_up` for /metrics: 0 while anonymous availability is not answered from
        memory because the watch does not listen (the alerting rules watch it)."""
        up = GaugeMetricFamily("pdi_feed_watch_up", "1 while the feed watch listens and its database answers, else 0")
        up.add_metric([], 1 if self.current is not None else 0)
        return [up]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                # Once per outage, not once a second while the database is away: only a watch
                # that was listening says it lost its connection.
                if self.cursor is not None:
                    log.warning(
                        "feed watch lost its connection (%s): availability is built by the route",
                        type(exc).__name__,
                    )
            if self.cursor is not None and self.on_lost is not None:
                self.on_lost()
            self.cursor = None
            self.stopping.wait(1.0)  # then listen again

    def _listen(self) -> None:
        # TCP keepalives: a peer gone silent (a dropped network, a failover) is found out within
        # half a minute, and the watch connects again.
        with psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=5,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            application_name=self.APPLICATION_NAME,
        ) as connection:
            connection.execute(f"LISTEN {FEED_CHANNEL}")
            if self.keys is not None:
                connection.execute(f"LISTEN {KEYS_CHANNEL}")
                # Kept while nobody listened, under the TTL: a revocation may have gone unheard.
                self.keys.clear()
            # Listening first, then reading: no commit falls between the two.
            self.cursor = self._read_cursor_within(connection)
            checked = time.monotonic()
            while not self.stopping.is_set():
                for notice in connection.notifies(timeout=1.0):
                    if notice.channel == FEED_CHANNEL:
                        self.cursor = max(self.cursor, int(notice.payload))
                    elif self.keys is not None:
                        self.keys.on_notice(notice.payload)
                    self.heard_at = time.monotonic()
                if self.keys is not None and self.keys.pending_uses:
                    self.keys.flush_uses(connection.execute)
                if time.monotonic() - checked > RECHECK_SECONDS:
                    # A connection that died without a word would leave the cursor behind for
                    # good: asking now and then finds out (and catches any notice missed).
                    self.cursor = max(self.cursor, self._read_cursor_within(connection))
                    checked = time.monotonic()
            if self.keys is not None and self.keys.pending_uses:
                self.keys.flush_uses(connection.execute)  # stopping: the last uses noted

    def _read_cursor_within(self, connection: psycopg.Connection) -> int:
        """The cursor, or an error after RECHECK_TIMEOUT_SECONDS: a stalled backend (still
        connected, answering nothing, so neither keepalives nor its own timeouts fire) has its
        socket shut under the waiting read, which then fails."""
        timer = threading.Timer(RECHECK_TIMEOUT_SECONDS, _sever, args=(connection,))
        timer.start()
        try:
            cursor = self._read_cursor(connection)
        finally:
            timer.cancel()
        self.heard_at = time.monotonic()
        return cursor

    @staticmethod
    def _read_cursor(connection: psycopg.Connection) -> int:
        row = connection.execute(LAST_CURSOR_SQL).fetchone()
        return row[0] if row else 0


def _sever(connection: psycopg.Connection) -> None:
    try:
        with socket.socket(fileno=os.dup(connection.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


class AvailabilityCache:
    """ASGI middleware: `GET <path>`, anonymous or with a key the key cache knows valid, answered
    from the page cache while the watch knows the cursor and the page is kept; everything else
    goes on to the application."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        pages: PageCache,
        watch: "FeedWatch | None",
        limits: RateLimits,
        keys: KeyCache | None = None,
    ):
        self.app = app
        self.path = path
        self.pages = pages
        self.watch = watch
        self.limits = limits
        self.keys = keys
        self.background: set[asyncio.Task] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer, question, build = self._answer(scope) if scope["type"] == "http" else (None, None, None)
        if answer is None:
            if question is None:
                await self.app(scope, receive, send)
                return
            with self.pages.building(question):
                await self.app(scope, receive, send)
            return
        if build is not None:
            self._build_in_background(scope, question, build)
        status, etag, body = answer
        scope["route"] = self.pages.route  # as the router notes it: /metrics counts these under its template
        headers = [(b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL.encode())]
        if body:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _build_in_background(self, scope: Scope, question: Question, mark: float) -> None:
        """The next page of `question`, built by the route for a GET of the service's own (the
        page is the same for every caller: anonymous, and unmetered), as a task of the event loop."""
        own_request: Scope = {
            **scope,
            "headers": [(name, value) for name, value in scope["headers"] if name == b"host"],
            "client": None,
            "state": {**scope.get("state", {}), UNMETERED: True},
        }
        task = asyncio.get_running_loop().create_task(self._build(own_request, question, mark))
        self.background.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self.background.discard)

    async def _build(self, scope: Scope, question: Question, mark: float) -> None:
        answered = asyncio.Event()
        statuses: list[int] = []
        asked = False

        async def receive() -> dict:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()  # as a client that hangs up once answered
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif not message.get("more_body", False):
                answered.set()

        try:
            await self.app(scope, receive, send)
            if statuses != [200]:
                log.warning("availability page built in the background answered %s", statuses)
        except Exception:  # a failed build leaves the last page, and a later poll tries again
            log.exception("availability page built in the background failed")
        finally:
            answered.set()
            self.pages.end_build(question, mark)

    def _answer(self, scope: Scope) -> tuple[tuple[int, str, bytes] | None, Question | None, float | None]:
        """The answer from memory (status, ETag, body), or None and, when the route is to build
        the page this request asks for, its question; and when its next page is to be built in
        the background, that build's mark (PageCache.last_page)."""
        cursor = self.watch.current if self.watch is not None else None
        if cursor is None or scope["method"] != "GET" or scope["path"] != self.path:
            return None, None, None
        if scope.get("state", {}).get(UNMETERED):
            return None, None, None  # a background build: the route
        known = known_caller(scope, self.keys)
        if known is None:
            return None, None, None  # not known valid here: the route checks it (401), and keeps it if valid
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        day = next((value for name, value in query if name == "on"), None) or clock.today().isoformat()
        etag = etag_for(query, day, cursor)
        body = self.pages.get(etag)
        question, build = question_of(query, day), None
        if body is None:
            kept = self.pages.last_page(question)
            if kept is None:
                return None, question, None
            etag, body, build = kept
        if not spend(known, scope, self.limits, self.keys):
            self.pages.end_build(question, build)
            return None, None, None  # the route answers the 429, with its problem document
        headers = dict(reversed(scope["headers"]))  # the first of a repeated header, as Starlette reads it
        if_none_match = headers.get(b"if-none-match")
        if if_none_match is not None and matches(if_none_match.decode("latin-1"), etag):
            return (304, etag, b""), question, build
        return (200, etag, body), question, build
