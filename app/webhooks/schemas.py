from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.changes.schemas import ChangeKind

State = Literal["active", "disabled"]
URL_RULE = "https (public addresses only, unless the service allows private ones)"


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description=URL_RULE)
    kinds: list[ChangeKind] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="Feed kinds to deliver; every kind the key reads if absent",
    )
    description: str | None = Field(default=None, max_length=500)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=8, max_length=2000, description=URL_RULE)
    kinds: list[ChangeKind] | None = Field(default=None, min_length=1, max_length=7)
    description: str | None = Field(default=None, max_length=500)
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


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int = Field(ge=0, le=2**62, description="Deliver again every event after this cursor (0: everything)")


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
