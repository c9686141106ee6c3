from datetime import date, datetime

from app.catalogue.models import Territory
from app.core.pagination import Page
from app.core.schemas import ReadModel


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
    waitlisted: int
    available: int | None
    next_release_on: date | None
    updated_at: datetime


class AvailabilityPage(Page[AvailabilityRead]):
    # The day the figures are for: with no `on` in the query, the portal learns which "today" it got.
    on: date
