from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response

from app.auth.dependencies import require_role
from app.core.caller import Caller
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.etag import with_etag
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_INT
from app.webhooks import service
from app.webhooks.schemas import DeliveryRead, ReplayIn, WebhookCreate, WebhookRead, WebhookUpdate, WebhookWithSecret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=MAX_INT)]
OwnerDep = Annotated[Caller, Depends(require_role(*service.OWNER_ROLES))]
IfMatch = Annotated[
    str | None, Header(max_length=1000, description="The ETag read last: 412 if the endpoint changed since")
]


@router.post("", status_code=201, response_model=WebhookWithSecret, responses=responses(401, 403, 409, 422))
def create_webhook(session: SessionDep, caller: OwnerDep, data: WebhookCreate):
    """Register an endpoint: the feed's changes this key reads will be POSTed to it, signed.

    The `secret` is shown once: keep it to verify each delivery (Standard Webhooks). A key has at
    most PDI_WEBHOOK_MAX_ENDPOINTS endpoints (409 beyond)."""
    return service.create_endpoint(session=session, caller=caller, data=data)


@router.get("", response_model=Page[WebhookRead], responses=responses(401, 403, 422))
def list_webhooks(session: SessionDep, caller: OwnerDep, page: PageDep):
    """The key's own endpoints (an admin key: every endpoint)."""
    rows, total = service.list_endpoints(session=session, caller=caller, params=page)
    return Page(items=[service.read_model(row) for row in rows], total=total, page=page.page, size=page.size)


@router.get("/{webhook_id}", response_model=WebhookRead, responses=responses(401, 403, 404, 422))
def get_webhook(session: SessionDep, caller: OwnerDep, webhook_id: WebhookId, response: Response):
    """One endpoint, with its progress and state (never its secret)."""
    endpoint = service.get_endpoint(session=session, caller=caller, endpoint_id=webhook_id)
    return with_etag(response, service.read_model(endpoint))


@router.patch("/{webhook_id}", response_model=WebhookRead, responses=responses(401, 403, 404, 412, 422))
def update_webhook(
    session: SessionDep,
    caller: OwnerDep,
    webhook_id: WebhookId,
    data: WebhookUpdate,
    response: Response,
    if_match: IfMatch = None,
):
    """Change an endpoint's URL, kinds or description; `"state": "active"` re-enables it."""
    endpoint = service.update_endpoint(
        session=session, caller=caller, endpoint_id=webhook_id, data=data, if_match=if_match
    )
    return with_etag(response, endpoint)


@router.delete("/{webhook_id}", status_code=204, responses=responses(401, 403, 404, 422))
def delete_webhook(session: SessionDep, caller: OwnerDep, webhook_id: WebhookId):
    """Remove an endpoint and its delivery log."""
    service.delete_endpoint(session=session, caller=caller, endpoint_id=webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret, responses=responses(401, 403, 404, 422))
def rotate_webhook_secret(session: SessionDep, caller: OwnerDep, webhook_id: WebhookId):
    """A new secret, shown once; deliveries carry both signatures for 24 hours."""
    return service.rotate_secret(session=session, caller=caller, endpoint_id=webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryRead], responses=responses(401, 403, 404, 422))
def list_webhook_deliveries(session: SessionDep, caller: OwnerDep, webhook_id: WebhookId, page: PageDep):
    """Every delivery attempt, newest first: event, time, HTTP status or error, duration, next attempt."""
    rows, total = service.list_deliveries(session=session, caller=caller, endpoint_id=webhook_id, params=page)
    items = [DeliveryRead.model_validate(row, from_attributes=True) for row in rows]
    return Page(items=items, total=total, page=page.page, size=page.size)


@router.post("/{webhook_id}/replay", response_model=WebhookRead, responses=responses(401, 403, 404, 422))
def replay_webhook(session: SessionDep, caller: OwnerDep, webhook_id: WebhookId, data: ReplayIn):
    """Deliver again, in order, every event after a cursor (0: the current state of everything).

    At most PDI_WEBHOOK_REPLAYS_PER_HOUR replays an hour per key (429 beyond)."""
    return service.replay(session=session, caller=caller, endpoint_id=webhook_id, data=data)
