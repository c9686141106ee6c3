"""The data·inclusion schema v1 as this service exports it (SPEC C3, "The field's format").

Field names and meanings are the schema's (French, as data·inclusion publishes them); only the
fields this catalogue can fill are sent. The `data-inclusion-schema` package validates every item
in the tests; the service itself does not depend on it. `places` and `distance_km` extend the
schema: a consumer that validates with the package's models ignores them.
"""

from datetime import date, datetime

from pydantic import BaseModel

from app.core.pagination import Page


class StructureExport(BaseModel):
    """A data·inclusion structure: one operator's site (a place that receives people)."""

    source: str
    id: str
    nom: str
    date_maj: date
    siret: str | None
    commune: str | None
    code_postal: str | None
    code_insee: str | None
    adresse: str | None
    latitude: float | None
    longitude: float | None
    telephone: str | None
    courriel: str | None
    site_web: str | None


class ServicePlaces(BaseModel):
    """The convention's seats on `on`, as GET /availability gives them (shared by its sites)."""

    capacity: int | None
    occupied: int
    reserved: int
    waitlisted: int
    available: int | None
    next_release_on: date | None
    updated_at: datetime


class ServiceExport(BaseModel):
    """A data·inclusion service: one action run under one active convention, at one of its sites."""

    source: str
    id: str
    structure_id: str
    nom: str
    description: str
    date_maj: date
    type: str | None
    thematiques: list[str] | None
    frais: str | None
    publics: list[str] | None
    publics_precisions: str | None
    commune: str | None
    code_postal: str | None
    code_insee: str | None
    adresse: str | None
    latitude: float | None
    longitude: float | None
    telephone: str | None
    courriel: str | None
    modes_accueil: list[str] | None
    zone_eligibilite: list[str] | None
    lien_mobilisation: str | None
    modes_mobilisation: list[str] | None
    mobilisable_par: list[str] | None
    # SPEC C11: the action's typical hours a week and length in weeks; null when unknown.
    volume_horaire_hebdomadaire: float | None = None
    nombre_semaines: int | None = None
    places: ServicePlaces
    # With `near`: km from that point to this service's site; null otherwise.
    distance_km: float | None = None


class ServicesPage(Page[ServiceExport]):
    # The day of the active conventions and their seats, as in GET /availability.
    on: date


class ScdlLeftOut(BaseModel):
    """A convention year of the year asked that makes no valid SCDL row, and why."""

    convention_id: int
    reference: str
    year: int
    reason: str


class ScdlGrantsRead(BaseModel):
    # Each row has the SCDL subventions columns, as the CSV gives them (text).
    rows: list[dict[str, str]]
    left_out: list[ScdlLeftOut]
