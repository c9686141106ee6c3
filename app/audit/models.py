"""The audit log: who changed what, when."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.core.models import moment_field
from app.core.time import utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_entity_entity_id", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = moment_field(nullable=False, index=True, default_factory=utcnow)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id", index=True)
    actor: str = Field(max_length=200)  # the key's name, kept even if the key is later revoked
    entity: str = Field(max_length=64)
    # 80: an assessment's `<action code>/<year>` (a code may take 64).
    entity_id: str = Field(max_length=80)
    action: str = Field(max_length=32)
    # Names of the fields written, never their values: pathways hold personal data.
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What a read asked and got (filters, row counts), or what a retention run did: never data.
    details: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
