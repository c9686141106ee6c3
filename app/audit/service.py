"""Recording writes in the audit log."""

from collections.abc import Iterable

from sqlmodel import Session

from app.audit.models import AuditEvent
from app.auth.service import Caller


def record(
    *, session: Session, caller: Caller, entity: str, entity_id: object, action: str, fields: Iterable[str] = ()
) -> None:
    """Note one write (in the caller's transaction, so it lands exactly when the write does)."""
    session.add(
        AuditEvent(
            api_key_id=caller.key_id,
            actor=caller.name,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            fields=sorted(fields),
        )
    )
