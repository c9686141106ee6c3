"""API keys checked from memory: a key's hash → the caller it stands for (SPEC C2, C5).

Every HTTP client sends its key on every call, and a lookup costs a statement (and, for a portal
key, the recursive query of its generations). So each worker keeps the callers of the few keys it
has found valid, by the key's hash, and each use checks the entry against:

- **expiry**: the entry holds the key's `expires_at`, compared with the clock at every use;
- **revocation and rotation**: `revoke_key` and `rotate_key` (app/auth/service.py) clear every
  cache of their own process when their transaction commits, and on PostgreSQL send
  `NOTIFY pdi_keys` in that transaction; each worker's watch (the `FeedWatch` of
  app/availability/cache.py, which listens to the feed already) hears it when it commits and
  clears its worker's cache (`on_notice`). Entries are then kept until the key expires;
- **no one listening** (SQLite, which has no NOTIFY; a watch not connected yet, or not heard from
  lately): an entry is served for `TTL_SECONDS` after its lookup only, so a key revoked or rotated
  from another process (`pdi keys revoke`, another worker) is refused there within that bound.
  Five seconds: a portal polling at its whole budget (PDI_RATE_LIMIT_KEY, 1,200 a minute) looks
  its key up once in a hundred calls, and a revoked key outlives its revocation by less time than
  it takes to tell anyone it was revoked. When a watch starts listening it clears the cache: what
  was kept under the TTL may have missed a notice.

A lookup that finds nothing valid is never kept: each failure takes the database and spends the
address's failed-authentication budget (app/core/rate_limits.py), so keys cannot be tried at
the speed of memory. A lookup that raced a clear (it began before a revocation's notice was
handled) is not kept either (`generation`).

A key's last use is noted at most once a minute (`LAST_USE_PRECISION`): `use_due` says when, for
the requests that have a session (app/auth/dependencies.py); the pages answered from memory
(app/availability/cache.py) have none, and leave the use to the watch's thread, which writes it
within a second (`note_use_later`, `flush_uses`).
"""

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.caller import Caller
from app.core.time import utcnow

# The channel of the notices that a key was revoked or rotated (payload: the key's id).
KEYS_CHANNEL = "pdi_keys"
# How long an entry is served while no notice can reach this worker (see the module's doc).
TTL_SECONDS = 5.0
# Keys kept per worker; the least recently used goes first. Keys are few (one per client).
KEPT_KEYS = 1024
# A key's last use is written at most this often: reads must not all turn into writes.
LAST_USE_PRECISION = timedelta(minutes=1)

# Written by the watch's thread on its own connection (psycopg placeholders): the condition keeps
# a later use noted by another worker.
_LAST_USE_SQL = (
    "UPDATE api_key SET last_used_at = %(at)s WHERE id = %(id)s "
    "AND (last_used_at IS NULL OR last_used_at < %(at)s - interval '1 minute')"
)


@dataclass
class _Entry:
    caller: Caller
    expires_at: datetime | None
    looked_up: float  # monotonic
    noted_at: datetime | None  # the key's last use, as stored or as noted since


class KeyCache:
    """The callers of valid keys by key hash, for one worker (thread-safe: the routes read it from
    the threadpool, the availability cache on the event loop, the watch clears it from its thread)."""

    def __init__(self, *, size: int = KEPT_KEYS):
        self.size = size
        self.entries: OrderedDict[str, _Entry] = OrderedDict()
        self.generation = 0  # moves at each clear: a lookup begun before it is not kept
        self.pending_uses: dict[int, datetime] = {}  # key id → a use to write (flush_uses)
        self._listening: list[Callable[[], bool]] = []
        self._lock = threading.Lock()
        _CACHES.add(self)

    # --- who tells us of revocations ----------------------------------------------------------

    def listen_with(self, listening: Callable[[], bool]) -> None:
        """`listening()` says whether notices on KEYS_CHANNEL reach this cache right now."""
        self._listening.append(listening)

    def stop_listening_with(self, listening: Callable[[], bool]) -> None:
        if listening in self._listening:
            self._listening.remove(listening)

    @property
    def listening(self) -> bool:
        return any(listening() for listening in self._listening)

    def on_notice(self, _payload: str = "") -> None:
        """A key was revoked or rotated somewhere: forget every key (they are few, and looked up
        again at their next call)."""
        self.clear()

    # --- entries ------------------------------------------------------------------------------

    def caller(self, key_hash: str, *, now: datetime | None = None) -> Caller | None:
        """The caller of a key known valid, or None: unknown here, expired, or kept longer than
        TTL_SECONDS while no notice can reach this worker."""
        with self._lock:
            entry = self.entries.get(key_hash)
            if entry is None:
                return None
            expired = entry.expires_at is not None and (now or utcnow()) >= entry.expires_at
            if expired or (time.monotonic() - entry.looked_up > TTL_SECONDS and not self.listening):
                del self.entries[key_hash]
                return None
            self.entries.move_to_end(key_hash)
            return entry.caller

    def keep(self, key_hash: str, caller: Caller, *, expires_at: datetime | None, generation: int) -> None:
        """Keep a caller looked up while the cache was at `generation` (read before the lookup)."""
        with self._lock:
            if generation != self.generation:
                return  # a clear came in between: what was read may be what the clear was about
            self.entries[key_hash] = _Entry(
                caller=caller, expires_at=expires_at, looked_up=time.monotonic(), noted_at=caller.last_used_at
            )
            self.entries.move_to_end(key_hash)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self.entries.clear()

    # --- last use -----------------------------------------------------------------------------

    def use_due(self, key_hash: str, caller: Caller, *, now: datetime) -> bool:
        """Whether this use should be written (the last one noted is a minute old); if so it
        counts as noted from now on."""
        with self._lock:
            entry = self.entries.get(key_hash)
            noted_at = entry.noted_at if entry is not None else caller.last_used_at
            if noted_at is not None and now - noted_at < LAST_USE_PRECISION:
                return False
            if entry is not None:
                entry.noted_at = now
            return True

    def note_use_later(self, key_hash: str, caller: Caller, *, now: datetime) -> None:
        """A use of a request that has no session: written by `flush_uses`, when due."""
        if self.use_due(key_hash, caller, now=now):
            with self._lock:
                self.pending_uses[caller.key_id] = now

    def flush_uses(self, execute: Callable[[str, dict], object]) -> None:
        """Write the pending uses with `execute(sql, params)` (a psycopg connection's, in autocommit).
        A use whose write fails stays pending, for the next flush."""
        with self._lock:
            uses, self.pending_uses = self.pending_uses, {}
        for number, (key_id, at) in enumerate(uses.items()):
            try:
                execute(_LAST_USE_SQL, {"id": key_id, "at": at})
            except Exception:
                with self._lock:
                    for later_id, later_at in list(uses.items())[number:]:
                        self.pending_uses.setdefault(later_id, later_at)
                raise


_CACHES: "weakref.WeakSet[KeyCache]" = weakref.WeakSet()


def clear_every_cache() -> None:
    """Forget every key in every cache of this process (a revocation or rotation committed here)."""
    for cache in list(_CACHES):
        cache.clear()
