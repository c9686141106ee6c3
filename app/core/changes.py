"""Noting changes for the change feed from any domain (the feed itself is app/changes/).

Writes through the ORM are noted automatically (app/changes/capture.py); a write made with a
bulk statement names what it changed here, and the notes become feed rows when the transaction
commits."""

from sqlalchemy.orm import Session

PENDING = "changes.pending"


def note_change(session: Session, kind: str, entity_id: object) -> None:
    session.info.setdefault(PENDING, set()).add((kind, str(entity_id)))
