from datetime import date, datetime

from app.catalogue.models import Territory
from app.core.pagination import Page
from app.core.schemas import ReadModel


class AvailabilitySiteRead(ReadModel):
    id: int
    name: str
    commune: str
    insee_code: str | None
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
    # With `near`: km from that point to the convention's nearest matching site; null otherwise.
    distance_km: float | None = None


class AvailabilityPage(Page[AvailabilityRead]):
    # The day the figures are for: with no `on` in the query, the portal learns which "today" it got.
    on: date
