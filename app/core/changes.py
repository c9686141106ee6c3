"""Noting changes for the change feed from any domain (the feed itself is app/changes/).

Writes through the ORM are noted automatically by the feed's capture (app/outbox/capture.py); a
write made with a bulk statement names what it changed here, and the notes become feed rows when
the transaction commits.

The capture is installed explicitly by whoever makes sessions (the app's factory, the CLI, the
tests' conftest: `install_feed_capture()`). Until it is, the project's session refuses every write
(`FeedCaptureMissing`), so that a script which forgot it fails at its first flush instead of
writing rows the feed never hears of. Installing the capture removes these two listeners: once
installed, they cost nothing."""

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

PENDING = "changes.pending"
# The execution option by which a bulk statement says its writer noted what it changed
# (app/outbox/capture.py refuses the others on the tables the feed serves).
FEED_NOTED = "feed_noted"


def note_change(session: Session, kind: str, entity_id: object) -> None:
    session.info.setdefault(PENDING, set()).add((kind, str(entity_id)))


class FeedCaptureMissing(RuntimeError):
    """A write through the project's session in a process that did not install the feed's capture."""


_MISSING = (
    "this process writes through PdiSession without the change feed's capture: call "
    "app.outbox.capture.install_feed_capture() before opening sessions (the app's factory and the CLI do)"
)


def _refuse_flush(_session: Session, _flush_context, _instances) -> None:
    raise FeedCaptureMissing(_MISSING)


def _refuse_bulk_write(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        raise FeedCaptureMissing(_MISSING)


def refuse_writes_until_feed_captured(session_class: type[Session]) -> None:
    """Make `session_class` refuse ORM flushes and bulk writes until `feed_captured` is called."""
    event.listen(session_class, "before_flush", _refuse_flush)
    event.listen(session_class, "do_orm_execute", _refuse_bulk_write)


def feed_captured(session_class: type[Session]) -> None:
    """The capture's listeners are bound to `session_class`: its writes are allowed (idempotent)."""
    for name, listener in (("before_flush", _refuse_flush), ("do_orm_execute", _refuse_bulk_write)):
        if event.contains(session_class, name, listener):
            event.remove(session_class, name, listener)
