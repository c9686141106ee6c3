"""Who is calling: the roles and the caller every domain's services take.

Below every domain, so that a service can name its caller without importing the keys' storage
(app/auth/), which sits above the catalogue it checks operators against."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ActorKind(StrEnum):
    """Who an audit event names: a key, a person signed in with the identity provider, or the
    command line."""

    key = "key"
    person = "person"
    cli = "cli"


@dataclass(frozen=True)
class Person:
    """A person signed in with the département's identity provider (SPEC C10): what their access
    token says of them, and the membership that gives them their role."""

    subject: str
    email: str | None
    name: str | None
    siret: str | None
    # The app the person signed in with (the token's `azp`, else `client_id`).
    client_id: str | None
    membership_id: int


class Role(StrEnum):
    admin = "admin"
    reader = "reader"
    portal = "portal"
    operator = "operator"


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key's identity, a person's (`person` set), or anonymous (role None).

    A person acts as a key of their membership's role: `key_id` is then their membership's owner
    key (app/auth/models.py, `Membership.api_key_id`), under which what they create is recorded,
    as a key's creations are under its id."""

    key_id: int | None
    name: str
    role: Role | None
    operator_id: int | None = None
    last_used_at: datetime | None = None
    # Every generation of the key (`pdi keys rotate`), this one included: what one of them
    # created belongs to the key's holder, whichever generation reads it. Set for portal keys.
    holder_key_ids: tuple[int, ...] = ()
    person: Person | None = None

    @property
    def kind(self) -> ActorKind:
        if self.person is not None:
            return ActorKind.person
        return ActorKind.key if self.key_id is not None else ActorKind.cli

    @property
    def rate_limit_id(self) -> str:
        """Whose budget a request spends (app/core/rate_limits.py): a person's own, else the key's."""
        return f"person:{self.person.subject}" if self.person is not None else str(self.key_id)

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    @property
    def identity(self) -> str | None:
        """Who calls, as one string that stays the same across their requests (None: anonymous),
        for what is counted per caller (the heavy reads' bulkhead): a key's holder, every
        generation of the key being one."""
        if self.is_anonymous:
            return None
        if self.key_id is None:
            return self.name  # the command line
        return f"key:{min(self.own_key_ids)}"

    @property
    def own_key_ids(self) -> tuple[int, ...]:
        """The keys whose creations are this caller's: every generation of its key."""
        if self.holder_key_ids:
            return self.holder_key_ids
        return (self.key_id,) if self.key_id is not None else ()


ANONYMOUS = Caller(key_id=None, name="anonymous", role=None)
# Writes made from the command line (seed, demo, retention) are recorded under this name.
CLI = Caller(key_id=None, name="cli", role=Role.admin)
