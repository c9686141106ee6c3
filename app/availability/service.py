"""Free places per active convention on a given day, for the RSA portal.

A page costs a fixed number of queries whatever its size: the count, the page of conventions
(with their action, operator and year line), their seats on the day, their sites. With `near`,
the page is cut in Python after the distances are known (see app/availability/where.py). What
occupies, reserves or waits for a seat is defined once, in app/seats/states.py; the counts on
the day (app/availability/counts.py) read what the database keeps by convention and day, so a page for
any day costs the same whatever the history.
"""

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import and_, exists, select
from sqlmodel import Session

from app.availability.counts import counts_on
from app.availability.schemas import AvailabilityPage, AvailabilityRead, AvailabilitySiteRead
from app.availability.where import ANYWHERE, Where, nearest_first, rounded_km
from app.catalogue.models import Action, Family, Operator, Site, Territory
from app.conventions.models import Convention, ConventionSite, ConventionYear, running_on
from app.core.pagination import PageParams, count_rows
from app.core.sql import ids_in
from app.core.text import equals
from app.core.time import latest
from app.seats.service import Seats, capacity


def list_availability(
    *,
    session: Session,
    on: date,
    params: PageParams,
    action: str | None = None,
    family: str | None = None,
    commune: str | None = None,
    territory: Territory | None = None,
    where: Where = ANYWHERE,
    convention_ids: Collection[int] | None = None,
) -> AvailabilityPage:
    statement = _active_conventions(on=on)
    if convention_ids is not None:
        statement = statement.where(ids_in(Convention.id, convention_ids))
    if action is not None:
        statement = statement.where(Action.code == action)
    if family is not None:
        statement = statement.join(Family, Family.id == Action.family_id).where(Family.code == family)
    if commune is not None:
        statement = statement.where(_has_site(equals(Site.commune, commune)))
    if territory is not None:
        statement = statement.where(_has_site(Site.territory == territory.value))
    site_conditions = where.site_conditions()
    if site_conditions:
        statement = statement.where(_has_site(and_(*site_conditions)))

    distances: dict[int, float] = {}
    if where.near is None:
        total = count_rows(session, statement)
        rows = session.execute(statement.offset(params.offset).limit(params.size)).all()
    else:
        ranked = _nearest_first(session=session, statement=statement, where=where)
        total = len(ranked)
        page = ranked[params.offset : params.offset + params.size]
        rows = [row for row, _distance in page]
        distances = {row.convention_id: distance for row, distance in page}
    page_ids = [row.convention_id for row in rows]
    counts = counts_on(session=session, on=on, convention_ids=page_ids)
    sites = _sites(session=session, convention_ids=page_ids)

    items = []
    for row in rows:
        count = counts.get(row.convention_id, {})
        seats_on_day = Seats(
            capacity=capacity(row.places, row.months_per_place),
            occupied=count.get("occupied", 0),
            reserved=count.get("reserved", 0),
            waitlisted=count.get("waitlisted", 0),
        )
        convention_sites, sites_updated_at = sites.get(row.convention_id, ([], None))
        items.append(
            AvailabilityRead(
                convention_id=row.convention_id,
                action=row.action,
                operator_id=row.operator_id,
                operator_name=row.operator_name,
                sites=convention_sites,
                places_funded=row.places,
                capacity=seats_on_day.capacity,
                occupied=seats_on_day.occupied,
                reserved=seats_on_day.reserved,
                waitlisted=seats_on_day.waitlisted,
                available=seats_on_day.available,
                next_release_on=count.get("next_release_on"),
                updated_at=latest(
                    row.convention_updated_at,
                    row.year_updated_at,
                    row.operator_updated_at,
                    sites_updated_at,
                    count.get("pathways_updated_at"),
                ),
                distance_km=rounded_km(distances.get(row.convention_id)),
            )
        )
    return AvailabilityPage.of(items, total, params, on=on)


def available_seats_by_action(*, session: Session, on: date) -> dict[str, int]:
    """Seats available on `on` per action code: the sum of `available` over the action's active
    conventions, as GET /availability shows them. Conventions without funded places count for
    nothing; an action none of whose active conventions has funded places is left out.
    Two queries, whatever the number of conventions (for the /metrics gauge)."""
    rows = session.execute(_active_conventions(on=on)).all()
    counts = counts_on(session=session, on=on, convention_ids=[row.convention_id for row in rows])
    seats: dict[str, int] = {}
    for row in rows:
        count = counts.get(row.convention_id, {})
        available = Seats(
            capacity=capacity(row.places, row.months_per_place),
            occupied=count.get("occupied", 0),
            reserved=count.get("reserved", 0),
        ).available
        if available is not None:
            seats[row.action] = seats.get(row.action, 0) + available
    return seats


def _active_conventions(*, on: date):
    """Conventions running on `on`, with what an item shows of them, in the list's order."""
    return (
        select(
            Convention.id.label("convention_id"),
            Action.code.label("action"),
            Operator.id.label("operator_id"),
            Operator.name.label("operator_name"),
            ConventionYear.places.label("places"),
            ConventionYear.months_per_place.label("months_per_place"),
            Convention.updated_at.label("convention_updated_at"),
            ConventionYear.updated_at.label("year_updated_at"),
            Operator.updated_at.label("operator_updated_at"),
        )
        .join(Action, Action.id == Convention.action_id)
        .join(Operator, Operator.id == Convention.operator_id)
        .outerjoin(
            ConventionYear,
            and_(ConventionYear.convention_id == Convention.id, ConventionYear.year == on.year),
        )
        .where(running_on(on))
        .order_by(Action.number, Operator.name, Convention.id)
    )


def _nearest_first(*, session: Session, statement, where: Where) -> list:
    """Every convention of `statement` with a site matching `where`, with that nearest site's
    distance, nearest first (all of them: the radius bounds how many)."""
    located = (
        statement.add_columns(Site.latitude.label("site_latitude"), Site.longitude.label("site_longitude"))
        .join(ConventionSite, ConventionSite.convention_id == Convention.id)
        .join(Site, Site.id == ConventionSite.site_id)
        .where(*where.site_conditions())
    )
    return nearest_first(
        session.execute(located).all(),
        near=where.near,
        radius_km=where.radius_km,
        key=lambda row: row.convention_id,
        coordinates=lambda row: (row.site_latitude, row.site_longitude),
    )


def _has_site(condition):
    return exists(
        select(ConventionSite.site_id)
        .join(Site, Site.id == ConventionSite.site_id)
        .where(ConventionSite.convention_id == Convention.id, condition)
    )


def _sites(*, session: Session, convention_ids: list[int]) -> dict[int, tuple[list[AvailabilitySiteRead], datetime]]:
    if not convention_ids:
        return {}
    statement = (
        select(ConventionSite.convention_id, Site)
        .join(Site, Site.id == ConventionSite.site_id)
        .where(ids_in(ConventionSite.convention_id, convention_ids))
        .order_by(ConventionSite.convention_id, Site.name, Site.id)
    )
    sites: dict[int, tuple[list[AvailabilitySiteRead], datetime]] = {}
    for convention_id, site in session.execute(statement):
        listed, updated_at = sites.get(convention_id, ([], None))
        listed.append(AvailabilitySiteRead.model_validate(site))
        sites[convention_id] = (listed, latest(updated_at, site.updated_at))
    return sites
