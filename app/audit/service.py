"""Recording writes in the audit log."""

from collections.abc import Iterable
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlmodel import Session

from app.audit.models import AuditEvent
from app.core.caller import Caller


def record(
    *,
    session: Session,
    caller: Caller,
    entity: str,
    entity_id: object,
    action: str,
    fields: Iterable[str] = (),
    details: dict[str, Any] | None = None,
) -> None:
    """Note one write, or one read of personal data (in the caller's transaction, so it lands
    exactly when the write does, and a read that could not be noted is not answered)."""
    session.add(
        AuditEvent(
            api_key_id=caller.key_id,
            actor=caller.name,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            fields=sorted(fields),
            details=jsonable_encoder(details) if details is not None else None,
        )
    )
