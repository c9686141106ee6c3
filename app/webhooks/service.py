"""Webhook endpoints: created by admin, portal and operator keys, each seeing only its own
(an admin sees all); another key's endpoint is a 404, as another operator's pathway is."""

from datetime import date, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth.models import ApiKey, Role
from app.core.caller import Caller
from app.core.config import get_settings
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match
from app.core.pagination import PageParams, paginate
from app.core.rate_limits import TooManyRequests
from app.core.sql import ids_in
from app.core.time import utcnow
from app.outbox.service import last_cursor
from app.webhooks import secrets
from app.webhooks.addresses import AddressRefused, normalised, resolve
from app.webhooks.models import EndpointState, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import ReplayIn, WebhookCreate, WebhookRead, WebhookUpdate, WebhookWithSecret

OWNER_ROLES = (Role.admin, Role.portal, Role.operator)
# After a rotation the old secret signs beside the new one this long (SPEC C8).
ROTATION_OVERLAP = timedelta(hours=24)


def read_model(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead.model_validate(endpoint, from_attributes=True)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(
        **read_model(endpoint).model_dump(),
        secret=secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def checked_url(url: str) -> str:
    """The URL as it will be requested (an internationalised host in punycode); 422 unless it may
    be called now (its shape, port, and every address its name resolves to)."""
    try:
        resolve(url, allow_private=get_settings().webhook_allow_private, timeout=5.0)
        return normalised(url)
    except AddressRefused as exc:
        raise InvalidInput(f"This URL cannot receive webhooks: {exc}", loc=["body", "url"]) from exc


def _lock_holder(session: Session, caller: Caller) -> list[int]:
    """The caller's key lineage, its key's row locked: one holder's quota checks run one at a
    time (SQLite: the writer's transaction holds the database's write lock already)."""
    session.exec(select(ApiKey.id).where(ApiKey.id == caller.key_id).with_for_update()).first()
    return key_lineage(session, caller.key_id)


def _check_endpoint_quota(session: Session, caller: Caller) -> None:
    lineage = _lock_holder(session, caller)
    owned = session.exec(
        select(func.count()).select_from(WebhookEndpoint).where(ids_in(WebhookEndpoint.owner_key_id, lineage))
    ).one()
    most = get_settings().webhook_max_endpoints
    if owned >= most:
        raise Conflict(f"A key may have at most {most} webhook endpoints: delete one first")


def _check_replay_quota(session: Session, caller: Caller) -> None:
    lineage = _lock_holder(session, caller)
    since = utcnow() - timedelta(hours=1)
    replays = session.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            ids_in(AuditEvent.api_key_id, lineage),
            AuditEvent.entity == "webhook",
            AuditEvent.action == "replay",
            AuditEvent.at >= since,
        )
    ).one()
    most = get_settings().webhook_replays_per_hour
    if replays >= most:
        raise TooManyRequests(
            f"A key may ask for at most {most} webhook replays an hour", headers={"Retry-After": "600"}
        )


def key_lineage(session: Session, key_id: int) -> list[int]:
    """The key and those it replaced (`pdi keys rotate`), newest first: a rotated key keeps the
    endpoints its predecessors created."""
    lineage = [key_id]
    while len(lineage) < 100:
        previous = session.exec(select(ApiKey.rotated_from_id).where(ApiKey.id == lineage[-1])).first()
        if previous is None or previous in lineage:
            break
        lineage.append(previous)
    return lineage


def current_owner(session: Session, key: ApiKey) -> ApiKey | None:
    """The usable key that stands for an endpoint's owner: its own key, or the newest key that
    replaced it by rotation; None when the holder has no usable key left (revoked, expired)."""
    now = utcnow()
    seen = set()
    while key is not None and key.id not in seen:
        if key.is_usable(now):
            return key
        seen.add(key.id)
        key = session.exec(select(ApiKey).where(ApiKey.rotated_from_id == key.id).order_by(ApiKey.id.desc())).first()
    return None


def _visible(session: Session, caller: Caller):
    statement = select(WebhookEndpoint)
    if caller.role != Role.admin:
        statement = statement.where(WebhookEndpoint.owner_key_id.in_(key_lineage(session, caller.key_id)))
    return statement


def get_endpoint(*, session: Session, caller: Caller, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    statement = _visible(session, caller).where(WebhookEndpoint.id == endpoint_id)
    endpoint = session.exec(statement.with_for_update() if lock else statement).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist")
    return endpoint


def list_endpoints(*, session: Session, caller: Caller, params: PageParams) -> tuple[list[WebhookEndpoint], int]:
    return paginate(session, _visible(session, caller).order_by(WebhookEndpoint.id), params)


def create_endpoint(*, session: Session, caller: Caller, data: WebhookCreate) -> WebhookWithSecret:
    """A new endpoint of the caller's, within its quota (PDI_WEBHOOK_MAX_ENDPOINTS: 409 beyond)."""
    url = checked_url(data.url)
    _check_endpoint_quota(session, caller)
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint(
        owner_key_id=caller.key_id,
        url=url,
        kinds=sorted(set(data.kinds)) if data.kinds else None,
        description=data.description,
        secret_encrypted=secrets.encrypt(secret, secret_key=get_settings().secret_key),
        # From now on: what changed before is there for a replay.
        cursor=last_cursor(session),
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session,
        caller=caller,
        entity="webhook",
        entity_id=endpoint.id,
        action="create",
        fields=data.model_dump(exclude_unset=True).keys(),
    )
    return _with_secret(endpoint, secret)


def update_endpoint(
    *, session: Session, caller: Caller, endpoint_id: int, data: WebhookUpdate, if_match: str | None
) -> WebhookRead:
    endpoint = get_endpoint(session=session, caller=caller, endpoint_id=endpoint_id, lock=True)
    check_if_match(if_match, read_model(endpoint))
    changes = data.model_dump(exclude_unset=True)
    for name in ("url", "state"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"`{name}` cannot be null", loc=["body", name])
    if "url" in changes:
        endpoint.url = checked_url(changes["url"])
    if "kinds" in changes:
        endpoint.kinds = sorted(set(changes["kinds"])) if changes["kinds"] else None
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("state") == EndpointState.active and endpoint.state != EndpointState.active:
        # Re-enabled: the event that failed is tried again at once, its failures forgotten.
        endpoint.state = EndpointState.active
        endpoint.disabled_reason = None
        _start_afresh(endpoint)
    elif changes.get("state") == EndpointState.disabled and endpoint.state != EndpointState.disabled:
        endpoint.state = EndpointState.disabled
        endpoint.disabled_reason = "disabled by its owner"
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session, caller=caller, entity="webhook", entity_id=endpoint.id, action="update", fields=changes.keys()
    )
    return read_model(endpoint)


def _start_afresh(endpoint: WebhookEndpoint) -> None:
    endpoint.attempts = 0
    endpoint.next_attempt_at = None
    endpoint.failing_since = None


def delete_endpoint(*, session: Session, caller: Caller, endpoint_id: int) -> None:
    endpoint = get_endpoint(session=session, caller=caller, endpoint_id=endpoint_id, lock=True)
    session.delete(endpoint)
    session.flush()
    audit.record(session=session, caller=caller, entity="webhook", entity_id=endpoint_id, action="delete")


def rotate_secret(*, session: Session, caller: Caller, endpoint_id: int) -> WebhookWithSecret:
    """A new secret; the current one keeps signing beside it for 24 hours, time to switch."""
    endpoint = get_endpoint(session=session, caller=caller, endpoint_id=endpoint_id, lock=True)
    secret = secrets.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret_encrypted = secrets.encrypt(secret, secret_key=get_settings().secret_key)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    audit.record(session=session, caller=caller, entity="webhook", entity_id=endpoint.id, action="rotate-secret")
    return _with_secret(endpoint, secret)


def replay(*, session: Session, caller: Caller, endpoint_id: int, data: ReplayIn) -> WebhookRead:
    """Deliver again every event after a cursor (the feed holds each entity once, at its latest
    change: a replay sends the current state of what changed since), at most
    PDI_WEBHOOK_REPLAYS_PER_HOUR times an hour per key (429 beyond)."""
    _check_replay_quota(session, caller)
    endpoint = get_endpoint(session=session, caller=caller, endpoint_id=endpoint_id, lock=True)
    if data.after > last_cursor(session):
        raise InvalidInput("This cursor is past the feed's last one", loc=["body", "after"])
    endpoint.cursor = data.after
    _start_afresh(endpoint)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    session.flush()
    audit.record(
        session=session,
        caller=caller,
        entity="webhook",
        entity_id=endpoint.id,
        action="replay",
        details={"after": data.after},
    )
    return read_model(endpoint)


def list_deliveries(
    *, session: Session, caller: Caller, endpoint_id: int, params: PageParams
) -> tuple[list[WebhookDelivery], int]:
    """The endpoint's attempts, newest first."""
    get_endpoint(session=session, caller=caller, endpoint_id=endpoint_id)
    statement = (
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id.desc())
    )
    return paginate(session, statement, params)


def prune_delivery_log(session: Session, today: date, *, keep_days: int) -> int:
    """Forget delivery attempts older than PDI_WEBHOOK_LOG_DAYS (the counters of /metrics stay)."""
    cut = utcnow() - timedelta(days=keep_days)
    return session.execute(delete(WebhookDelivery).where(WebhookDelivery.attempted_at < cut)).rowcount
