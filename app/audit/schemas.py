from datetime import datetime

from app.core.schemas import ReadModel


class AuditEventRead(ReadModel):
    id: int
    at: datetime
    api_key_id: int | None
    actor: str
    entity: str
    entity_id: str
    action: str
    fields: list[str]
