"""API keys: shown once at creation, stored as a hash."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from app.core.models import created_at_field, moment_field


class Role(StrEnum):
    admin = "admin"
    reader = "reader"
    portal = "portal"
    operator = "operator"


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
