from datetime import datetime

from app.core.schemas import ReadModel
from app.periods.models import PeriodStatus


class PeriodRead(ReadModel):
    year: int
    status: PeriodStatus
    consolidated_at: datetime | None
