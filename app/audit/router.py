from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import select

from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventRead
from app.audit.service import actor_is
from app.auth.dependencies import AdminDep
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.pagination import Page, PageDep, paginate
from app.core.schemas import MAX_INT, IsoMoment

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead], responses=responses(401, 403, 422))
def list_audit_events(
    session: SessionDep,
    _caller: AdminDep,
    page: PageDep,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=80)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    api_key_id: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    actor: Annotated[
        str | None,
        Query(max_length=255, description="A person's email (any case) or subject, or a key's id"),
    ] = None,
    since: Annotated[IsoMoment | None, Query(description="At or after this moment (ISO 8601)")] = None,
    until: Annotated[IsoMoment | None, Query(description="Before this moment (ISO 8601)")] = None,
):
    """Who changed what, when (newest first)."""
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if entity:
        statement = statement.where(AuditEvent.entity == entity)
    if entity_id:
        statement = statement.where(AuditEvent.entity_id == entity_id)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if api_key_id is not None:
        statement = statement.where(AuditEvent.api_key_id == api_key_id)
    if actor:
        statement = statement.where(actor_is(actor))
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if until is not None:
        statement = statement.where(AuditEvent.at < until)
    rows, total = paginate(session, statement, page)
    return Page.of([AuditEventRead.model_validate(r) for r in rows], total, page)
