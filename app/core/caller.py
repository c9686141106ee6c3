"""Who is calling: the roles and the caller every domain's services take.

Below every domain, so that a service can name its caller without importing the keys' storage
(app/auth/), which sits above the catalogue it checks operators against."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    reader = "reader"
    portal = "portal"
    operator = "operator"


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key's identity, or anonymous (role None)."""

    key_id: int | None
    name: str
    role: Role | None
    operator_id: int | None = None
    last_used_at: datetime | None = None
    # Every generation of the key (`pdi keys rotate`), this one included: what one of them
    # created belongs to the key's holder, whichever generation reads it. Set for portal keys.
    holder_key_ids: tuple[int, ...] = ()

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
