"""Free places per active convention on a given day, for the RSA portal.

A page costs a fixed number of queries whatever its size: the count, the page of conventions
(with their action, operator and year line), one aggregate over their pathways, one for their
sites (and one over the site communes when filtering by commune). With `near`, the page is cut
in Python after the distances are known (see app/availability/where.py).

On day `on`, a pathway
- *occupies* a seat when its stay `[entered_on, exited_on]` contains `on` (both ends
  inclusive, as SPEC counts stays: a person leaving on `on` is still there that day);
- *reserves* one when it was prescribed by `on` and, on `on`, was neither entered nor
  cancelled yet. Both read the pathway as it stood on `on`, so a past day shows what the
  portal would have seen then (a prescription entered or cancelled later was a reservation).
"""

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, or_, select
from sqlmodel import Session

from app.availability.schemas import AvailabilityPage, AvailabilityRead, AvailabilitySiteRead
from app.availability.where import ANYWHERE, Where, nearest_first, rounded_km
from app.catalogue.models import Action, Family, Operator, Site, Territory
from app.conventions.models import Convention, ConventionSite, ConventionStatus, ConventionYear
from app.core.pagination import PageParams, count_rows
from app.core.text import equals
from app.pathways.models import Pathway


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
        statement = statement.where(Convention.id.in_(convention_ids))
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
    counts = _pathway_counts(session=session, on=on, convention_ids=page_ids)
    sites = _sites(session=session, convention_ids=page_ids)

    items = []
    for row in rows:
        count = counts.get(row.convention_id)
        occupied = count.occupied if count else 0
        reserved = count.reserved if count else 0
        capacity = None if row.places is None else row.places * row.months_per_place // 12
        convention_sites, sites_updated_at = sites.get(row.convention_id, ([], None))
        items.append(
            AvailabilityRead(
                convention_id=row.convention_id,
                action=row.action,
                operator_id=row.operator_id,
                operator_name=row.operator_name,
                sites=convention_sites,
                places_funded=row.places,
                capacity=capacity,
                occupied=occupied,
                reserved=reserved,
                # Overbooking happens (entries beyond funded places): never show a negative.
                available=None if capacity is None else max(0, capacity - occupied - reserved),
                next_release_on=count.next_release_on if count else None,
                updated_at=_latest(
                    row.convention_updated_at,
                    row.year_updated_at,
                    row.operator_updated_at,
                    sites_updated_at,
                    count.pathways_updated_at if count else None,
                ),
                distance_km=rounded_km(distances.get(row.convention_id)),
            )
        )
    return AvailabilityPage(items=items, total=total, page=params.page, size=params.size, on=on)


def active_on(on: date):
    """The condition that a convention runs on `on`: active, and `on` within its dates."""
    return and_(
        Convention.status == ConventionStatus.active.value,
        Convention.start_on <= on,
        Convention.end_on >= on,
    )


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
        .where(active_on(on))
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


def _pathway_counts(*, session: Session, on: date, convention_ids: list[int]) -> dict:
    if not convention_ids:
        return {}
    occupies = and_(
        Pathway.entered_on <= on,
        or_(Pathway.exited_on.is_(None), Pathway.exited_on >= on),
        Pathway.cancelled_on.is_(None),
    )
    reserves = and_(
        Pathway.prescribed_on <= on,
        or_(Pathway.entered_on.is_(None), Pathway.entered_on > on),
        or_(Pathway.cancelled_on.is_(None), Pathway.cancelled_on > on),
    )
    statement = (
        select(
            Pathway.convention_id,
            func.coalesce(func.sum(case((occupies, 1), else_=0)), 0).label("occupied"),
            func.coalesce(func.sum(case((reserves, 1), else_=0)), 0).label("reserved"),
            # An overdue planned end (before `on`) announces no release: only future ones count.
            func.min(case((and_(occupies, Pathway.planned_end_on >= on), Pathway.planned_end_on))).label(
                "next_release_on"
            ),
            func.max(Pathway.updated_at).label("pathways_updated_at"),
        )
        .where(Pathway.convention_id.in_(convention_ids))
        .group_by(Pathway.convention_id)
    )
    return {row.convention_id: row for row in session.execute(statement)}


def _sites(*, session: Session, convention_ids: list[int]) -> dict[int, tuple[list[AvailabilitySiteRead], datetime]]:
    if not convention_ids:
        return {}
    statement = (
        select(ConventionSite.convention_id, Site)
        .join(Site, Site.id == ConventionSite.site_id)
        .where(ConventionSite.convention_id.in_(convention_ids))
        .order_by(ConventionSite.convention_id, Site.name, Site.id)
    )
    sites: dict[int, tuple[list[AvailabilitySiteRead], datetime]] = {}
    for convention_id, site in session.execute(statement):
        listed, updated_at = sites.get(convention_id, ([], None))
        listed.append(AvailabilitySiteRead.model_validate(site))
        sites[convention_id] = (listed, _latest(updated_at, site.updated_at))
    return sites


def _latest(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)
