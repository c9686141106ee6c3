"""Noting changes for the change feed from any domain (the feed itself is app/changes/).

Writes through the ORM are noted automatically (app/outbox/capture.py); a write made with a
bulk statement names what it changed here, and the notes become feed rows when the transaction
commits."""

from sqlalchemy.orm import Session

PENDING = "changes.pending"
# The execution option by which a bulk statement says its writer noted what it changed
# (app/outbox/capture.py refuses the others on the tables the feed serves).
FEED_NOTED = "feed_noted"


def note_change(session: Session, kind: str, entity_id: object) -> None:
    session.info.setdefault(PENDING, set()).add((kind, str(entity_id)))
