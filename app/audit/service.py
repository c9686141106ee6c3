"""Recording writes in the audit log."""

from collections.abc import Iterable
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import ColumnElement, and_, func, or_
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
            # A person's key_id is their membership's owner key, not a key anyone called with.
            api_key_id=caller.key_id if caller.person is None else None,
            actor=caller.name,
            actor_kind=caller.kind,
            subject=caller.person.subject if caller.person is not None else None,
            client_id=caller.person.client_id if caller.person is not None else None,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            fields=sorted(fields),
            details=jsonable_encoder(details) if details is not None else None,
        )
    )


def actor_is(actor: str) -> ColumnElement[bool]:
    """The events of one actor: a person by email (in any case) or subject, a key by its id."""
    conditions = [
        and_(AuditEvent.actor_kind == "person", func.lower(AuditEvent.actor) == actor.lower()),
        AuditEvent.subject == actor,
    ]
    if actor.isdigit() and len(actor) < 10:
        conditions.append(AuditEvent.api_key_id == int(actor))
    return or_(*conditions)
