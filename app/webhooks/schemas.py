from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.changes.schemas import ChangeKind
from app.core.schemas import BoundedText, InputModel

State = Literal["active", "disabled"]
URL_RULE = (
    "https on port 443 to public addresses only (unless the service allows private ones); an "
    "internationalised host is stored in punycode"
)
Url = BoundedText(2000, min_length=8)
Description = BoundedText(500)


class WebhookCreate(InputModel):
    url: Url = Field(description=URL_RULE)
    kinds: list[ChangeKind] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="Feed kinds to deliver; every kind the key reads if absent",
    )
    description: Description | None = None


class WebhookUpdate(InputModel):
    url: Url | None = Field(default=None, description=URL_RULE)
    kinds: list[ChangeKind] | None = Field(default=None, min_length=1, max_length=7)
    description: Description | None = None
    state: State | None = Field(default=None, description="`active` re-enables a disabled endpoint")


class WebhookRead(BaseModel):
    id: int
    url: str
    kinds: list[ChangeKind] | None
    description: str | None
    state: State
    disabled_reason: str | None
    owner_key_id: int
    cursor: int = Field(description="Every event up to this cursor was delivered")
    attempts: int = Field(description="Failed attempts of the next event")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str = Field(description="`whsec_…`: shown once; verify deliveries with it (Standard Webhooks)")
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="After a rotation, the old secret also signs until then"
    )


class ReplayIn(InputModel):
    after: int = Field(
        strict=True, ge=0, le=2**62, description="Deliver again every event after this cursor (0: everything)"
    )


class DeliveryRead(BaseModel):
    id: int
    event_id: str = Field(description="The feed item's cursor, sent as webhook-id")
    event_type: str
    attempt: int
    attempted_at: datetime
    outcome: Literal["delivered", "http_error", "transport_error", "address_refused"]
    status_code: int | None
    error: str | None
    duration_ms: int
    next_attempt_at: datetime | None
