"""Memberships and `GET /me` (SPEC C10)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.core.caller import Role
from app.core.schemas import MAX_INT, ReadModel, Timestamp

_Text = Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")


class MatchSubject(BaseModel):
    """One person, by the `sub` the identity provider gives them."""

    model_config = ConfigDict(extra="forbid")
    subject: str = _Text


class MatchEmail(BaseModel):
    """One person, by their email (matched in any case; not when the provider says it is unverified)."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=255, pattern=r"^[^@\s]+@[^@\s]+$")


class MatchSiret(BaseModel):
    """Every person of an organisation, by the `siret` claim ProConnect sends."""

    model_config = ConfigDict(extra="forbid")
    siret: str = Field(pattern=r"^[0-9]{14}$")


Match = MatchSubject | MatchEmail | MatchSiret


class MembershipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match: Match
    role: Role
    operator_id: int | None = Field(default=None, ge=1, le=MAX_INT)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class MembershipRead(ReadModel):
    id: int
    match: Match
    role: Role
    operator_id: int | None
    name: str | None
    created_at: Timestamp


class MeRead(BaseModel):
    """Who the caller is: a person (signed in) or a key."""

    kind: Literal["person", "key"]
    role: Role
    operator_id: int | None
    name: str | None
    # a person's
    subject: str | None = None
    email: str | None = None
    siret: str | None = None
    membership_id: int | None = None
    # a key's
    key_id: int | None = None

    @model_validator(mode="after")
    def _either(self) -> "MeRead":
        if (self.kind == "person") != (self.membership_id is not None):
            raise ValueError("a person has a membership, a key has none")
        return self
