"""The catalogue in the data·inclusion schema v1, for the field's directories and portals.

- Structures: one per operator site (the place people go to), every site, whatever its
  conventions.
- Services: one per convention active on `on` (availability's notion: `running_on`) and site of
  that convention. The action says what the service is; the site where; the operator how to
  reach it; the convention's seats that day come from the availability service, so the two
  endpoints always agree.

Ids are "<source>--<local id>", as data·inclusion builds them: the local ids are the site's and
the convention's database ids, which never change.
"""

import re
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlmodel import Session

from app.availability import service as availability
from app.availability.schemas import AvailabilityRead
from app.availability.where import ANYWHERE, Where, nearest_first, rounded_km
from app.catalogue.models import Action, Operator, Site
from app.conventions.models import Convention, ConventionSite, running_on
from app.core.pagination import Page, PageParams, count_rows
from app.exports import template
from app.exports.schemas import ServiceExport, ServicePlaces, ServicesPage, StructureExport

# One page holding every row (the template is one file).
EVERY_ROW = 10**9
# The schema's bounds on a name (3 to 150 characters, no final full stop: a warning).
NAME_MIN, NAME_MAX = 3, 150
# A service's description is required, of at least 5 characters.
DESCRIPTION_MIN = 5
# What email-validator (the schema's EmailStr) accepts, narrowed to plain ASCII addresses: an
# operator's e-mail is checked more loosely on input, and an address the schema would refuse is
# left out of the export rather than making the item invalid.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Domains that no address can be delivered to (RFC 6761 and 6762), which email-validator refuses.
_SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def structure_id(*, source: str, site_id: int) -> str:
    return f"{source}--site-{site_id}"


def service_id(*, source: str, convention_id: int, site_id: int) -> str:
    return f"{source}--convention-{convention_id}-site-{site_id}"


def list_structures(*, session: Session, source: str, params: PageParams) -> Page[StructureExport]:
    statement = (
        select(Site, Operator)
        .join(Operator, Operator.id == Site.operator_id)
        .order_by(Operator.name, Site.name, Site.id)
    )
    total = count_rows(session, statement)
    rows = session.execute(statement.offset(params.offset).limit(params.size)).all()
    items = [_structure(source=source, site=site, operator=operator) for site, operator in rows]
    return Page.of(items, total, params)


def list_services(
    *,
    session: Session,
    source: str,
    portal_url: str | None,
    departement_code: str,
    on: date,
    params: PageParams,
    where: Where,
) -> ServicesPage:
    statement = (
        select(Convention, Action, Operator, Site)
        .join(Action, Action.id == Convention.action_id)
        .join(Operator, Operator.id == Convention.operator_id)
        .join(ConventionSite, ConventionSite.convention_id == Convention.id)
        .join(Site, Site.id == ConventionSite.site_id)
        .where(running_on(on), *where.site_conditions())
        # Availability's order (action, operator, convention), then the convention's sites.
        .order_by(Action.number, Operator.name, Convention.id, Site.name, Site.id)
    )
    distances: dict[tuple[int, int], float] = {}
    if where.near is None:
        total = count_rows(session, statement)
        rows = session.execute(statement.offset(params.offset).limit(params.size)).all()
    else:
        ranked = nearest_first(
            session.execute(statement).all(),
            near=where.near,
            radius_km=where.radius_km,
            key=lambda row: (row.Convention.id, row.Site.id),
            coordinates=lambda row: (row.Site.latitude, row.Site.longitude),
        )
        total = len(ranked)
        page = ranked[params.offset : params.offset + params.size]
        rows = [row for row, _distance in page]
        distances = {(row.Convention.id, row.Site.id): distance for row, distance in page}

    seats = _seats(session=session, on=on, convention_ids={row.Convention.id for row in rows})
    items = [
        _service(
            source=source,
            portal_url=portal_url,
            departement_code=departement_code,
            convention=row.Convention,
            action=row.Action,
            operator=row.Operator,
            site=row.Site,
            seats=seats[row.Convention.id],
            distance_km=rounded_km(distances.get((row.Convention.id, row.Site.id))),
        )
        for row in rows
    ]
    return ServicesPage.of(items, total, params, on=on)


def template_xlsx(*, session: Session, source: str, portal_url: str | None, departement_code: str, on: date) -> bytes:
    """Every structure and the services of `on`, in data·inclusion's publication template."""
    everything = PageParams(page=1, size=EVERY_ROW)
    structures = list_structures(session=session, source=source, params=everything).items
    services = list_services(
        session=session,
        source=source,
        portal_url=portal_url,
        departement_code=departement_code,
        on=on,
        params=everything,
        where=ANYWHERE,
    ).items
    return template.to_xlsx(structures=structures, services=services)


def _seats(*, session: Session, on: date, convention_ids: set[int]) -> dict[int, AvailabilityRead]:
    """The availability items of these conventions on `on` (one query set for the whole page)."""
    if not convention_ids:
        return {}
    result = availability.list_availability(
        session=session, on=on, params=PageParams(page=1, size=len(convention_ids)), convention_ids=convention_ids
    )
    return {item.convention_id: item for item in result.items}


def _structure(*, source: str, site: Site, operator: Operator) -> StructureExport:
    return StructureExport(
        source=source,
        id=structure_id(source=source, site_id=site.id),
        nom=schema_name(site.name, qualifier=site.commune),
        date_maj=_utc_day(max(_as_utc(site.updated_at), _as_utc(operator.updated_at))),
        siret=operator.siret,
        commune=site.commune,
        code_postal=site.postcode,
        code_insee=site.insee_code,
        adresse=site.address,
        latitude=site.latitude,
        longitude=site.longitude,
        telephone=operator.phone,
        courriel=deliverable_email(operator.email),
        site_web=operator.website,
    )


def _service(
    *,
    source: str,
    portal_url: str | None,
    departement_code: str,
    convention: Convention,
    action: Action,
    operator: Operator,
    site: Site,
    seats: AvailabilityRead,
    distance_km: float | None,
) -> ServiceExport:
    changed = max(_as_utc(row.updated_at) for row in (convention, action, operator, site))
    return ServiceExport(
        source=source,
        id=service_id(source=source, convention_id=convention.id, site_id=site.id),
        structure_id=structure_id(source=source, site_id=site.id),
        nom=schema_name(action.name, qualifier=operator.name),
        description=_description(action),
        date_maj=_utc_day(changed),
        type=action.type,
        thematiques=action.thematiques,
        frais=action.frais,
        publics=action.publics,
        publics_precisions=action.target_public,
        commune=site.commune,
        code_postal=site.postcode,
        code_insee=site.insee_code,
        adresse=site.address,
        latitude=site.latitude,
        longitude=site.longitude,
        telephone=operator.phone,
        courriel=deliverable_email(operator.email),
        modes_accueil=action.modes_accueil,
        # An action that names no zone serves the département whose programme it is.
        zone_eligibilite=action.zone_eligibilite or [departement_code],
        lien_mobilisation=portal_url,
        modes_mobilisation=action.modes_mobilisation,
        mobilisable_par=action.mobilisable_par,
        volume_horaire_hebdomadaire=action.weekly_hours,
        nombre_semaines=action.duration_weeks,
        places=ServicePlaces(
            capacity=seats.capacity,
            occupied=seats.occupied,
            reserved=seats.reserved,
            # Waitlists come with SPEC C3's "seats hold"; until availability counts them, none.
            waitlisted=seats.waitlisted,
            available=seats.available,
            next_release_on=seats.next_release_on,
            updated_at=seats.updated_at,
        ),
        distance_km=distance_km,
    )


def schema_name(name: str, *, qualifier: str) -> str:
    """`name` within the schema's rules: 3 to 150 characters, no final full stop (but "etc.").

    Our names may be 1 to 200 characters: a short one takes its `qualifier` (the commune, the
    operator) in brackets; a long one is cut with an ellipsis.
    """
    name = name.strip()
    while name.endswith(".") and not name.endswith("etc."):
        name = name[:-1].rstrip()
    if len(name) < NAME_MIN:
        name = f"{name} ({qualifier.strip()})".strip()
    if len(name) > NAME_MAX:
        name = name[: NAME_MAX - 1].rstrip() + "…"
    return name


def _description(action: Action) -> str:
    description = (action.description or "").strip()
    if len(description) >= DESCRIPTION_MIN:
        return description
    # The schema requires one; an action without a description still says what it is.
    return f"{action.name.strip()} : action du Programme départemental d'insertion (PDI)."


def deliverable_email(email: str | None) -> str | None:
    if email is None or not _EMAIL.match(email) or len(email) > 254:
        return None
    if email.rsplit(".", 1)[-1].lower() in _SPECIAL_USE_DOMAINS:
        return None
    return email


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive timestamps (stored in UTC); PostgreSQL aware ones.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc_day(moment: datetime) -> date:
    # The UTC day, never later than the day in France: the schema refuses a date_maj "in the
    # future" by the validating machine's calendar, and its consumers are in France.
    return moment.astimezone(UTC).date()
