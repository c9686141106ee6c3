"""API keys: shown once at creation, stored as a hash."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.caller import Role
from app.core.models import created_at_field, moment_field


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=String(16))
    operator_id: int | None = Field(default=None, foreign_key="operator.id")
    # SHA-256 of the key: keys are long random tokens, so a fast hash is enough to look them up
    # without storing them.
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16, index=True)
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = moment_field()
    # Refused from this moment on (null: never expires). Rotation sets it on the old key.
    expires_at: datetime | None = moment_field()
    # Updated at most once a minute per key, so that reads do not all become writes.
    last_used_at: datetime | None = moment_field()
    # The key this one replaced (`pdi keys rotate`).
    rotated_from_id: int | None = Field(default=None, foreign_key="api_key.id")

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


# The prefix of a membership's owner key (below), which no one holds: `pdi keys list` shows it so.
OWNER_KEY_PREFIX = "membership"


class MatchKind(StrEnum):
    """What of a person's token a membership matches, most specific first."""

    subject = "subject"
    email = "email"
    siret = "siret"


class Membership(SQLModel, table=True):
    """A person's (or an organisation's people's) role in the service (SPEC C10): rights come
    from here, never from the token alone."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("match_kind", "match_value"),)

    id: int | None = Field(default=None, primary_key=True)
    match_kind: MatchKind = Field(sa_type=String(8))
    # An email is stored in lower case (matched without regard to case); a subject as sent.
    match_value: str = Field(max_length=255)
    role: Role = Field(sa_type=String(16))
    operator_id: int | None = Field(default=None, foreign_key="operator.id", index=True)
    name: str | None = Field(default=None, max_length=200)
    created_at: datetime = created_at_field()
    # The membership's owner identity: a key row that no one holds (its hash is of a random value
    # thrown away), under which what its people create is recorded, as what a key creates is
    # under that key's id (pathways, diagnostics, webhooks, the feed's changes all say who owns a
    # row by key id). Revoked when the membership is deleted, which stops its webhooks too.
    api_key_id: int = Field(foreign_key="api_key.id", unique=True)
