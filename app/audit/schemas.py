from typing import Any

from app.core.schemas import ReadModel, Timestamp


class AuditEventRead(ReadModel):
    id: int
    at: Timestamp
    api_key_id: int | None
    actor: str
    entity: str
    entity_id: str
    action: str
    fields: list[str]
    details: dict[str, Any] | None
