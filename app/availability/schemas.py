import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BeforeValidator

from app.catalogue.models import Territory
from app.core.pagination import Page
from app.core.schemas import ReadModel


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day_only(value):
    # pydantic alone would also read "1560556800" or "0" as Unix timestamps: a portal sending
    # the wrong thing would silently get figures for another day.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("Expected a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day_only)]


class AvailabilitySiteRead(ReadModel):
    id: int
    name: str
    commune: str
    postcode: str | None
    territory: Territory | None
    latitude: float | None
    longitude: float | None


class AvailabilityRead(ReadModel):
    convention_id: int
    action: str
    operator_id: int
    operator_name: str
    sites: list[AvailabilitySiteRead]
    places_funded: int | None
    capacity: int | None
    occupied: int
    reserved: int
    available: int | None
    next_release_on: date | None
    updated_at: datetime


class AvailabilityPage(Page[AvailabilityRead]):
    # The day the figures are for: with no `on` in the query, the portal learns which "today" it got.
    on: date
