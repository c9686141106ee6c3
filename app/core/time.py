"""The clock: UTC for timestamps, the département's calendar day for dates."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

# The service runs for one French département: "today" is the calendar day in Paris.
PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    return datetime.now(UTC)


def latest(*moments: datetime | None) -> datetime | None:
    """The latest of the moments given, None among them ignored (None if all are)."""
    return max((moment for moment in moments if moment is not None), default=None)


def today() -> date:
    return datetime.now(PARIS).date()
