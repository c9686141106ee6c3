from typing import Any, Literal

from app.core.schemas import ReadModel, Timestamp


class AuditEventRead(ReadModel):
    id: int
    at: Timestamp
    api_key_id: int | None
    actor: str
    actor_kind: Literal["key", "person", "cli"]
    subject: str | None
    client_id: str | None
    entity: str
    entity_id: str
    action: str
    fields: list[str]
    details: dict[str, Any] | None
