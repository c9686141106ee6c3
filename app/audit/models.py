"""The audit log: who changed what, when."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from app.core.models import moment_field
from app.core.time import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity_entity_id", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = moment_field(nullable=False, index=True, default_factory=utcnow)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id", index=True)
    # The key's name, kept even if the key is later revoked; a person's email, else their `sub`.
    actor: str = Field(max_length=200)
    # key, person or cli (app/core/caller.py ActorKind); a person's `sub` and the app they used
    # (the token's `azp`, else `client_id`).
    actor_kind: str = Field(default="key", sa_type=String(8))
    subject: str | None = Field(default=None, max_length=255, index=True)
    client_id: str | None = Field(default=None, max_length=255)
    entity: str = Field(max_length=64)
    # 80: an assessment's `<action code>/<year>` (a code may take 64).
    entity_id: str = Field(max_length=80)
    action: str = Field(max_length=32)
    # Names of the fields written, never their values: pathways hold personal data.
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What a read asked and got (filters, row counts), or what a retention run did: never data.
    details: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
