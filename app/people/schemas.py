"""Memberships and `GET /me` (SPEC C10)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class MePerson(BaseModel):
    """A person signed in, and the membership giving them their role."""

    kind: Literal["person"]
    subject: str
    email: str | None
    name: str | None
    siret: str | None
    role: Role
    operator_id: int | None
    membership_id: int


class MeKey(BaseModel):
    """An API key."""

    kind: Literal["key"]
    key_id: int
    name: str
    role: Role
    operator_id: int | None


# Each kind with its own fields only: a key's answer carries no person's fields as nulls.
MeRead = Annotated[MePerson | MeKey, Field(discriminator="kind")]
