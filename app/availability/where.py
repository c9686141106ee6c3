"""Where: the location filters of availability and of the data·inclusion services export.

A filter keeps the sites that meet every condition given, and a listed thing (a convention, or a
convention at one site) when it has such a site:
- `insee_code`: the site's commune, by its INSEE code;
- `departement`: the département of the site's INSEE code (`departement_of`); a site without
  an INSEE code has none. Postcodes are not used: Corsica's (20xxx) do not tell 2A from 2B;
- `near` + `radius_km`: the site's coordinates lie within `radius_km` of the point; the list is
  then sorted by distance, nearest first (a convention by its nearest matching site).

How the distance is computed: SQL keeps the sites inside a latitude/longitude box that contains
the whole circle (plain comparisons, the same on SQLite and PostgreSQL; SQLite has no
trigonometry in its default build), then Python computes the great-circle (haversine) distance
of those few candidates, drops the ones beyond the radius and sorts. The box only prefilters, so
it may be loose but never too tight: near a pole or the antimeridian it leaves longitude free.
"""

import math
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, and_, case, func

from app.catalogue.models import Site
from app.core.errors import InvalidInput

# Mean Earth radius (IUGG), the usual sphere for haversine distances: within 0.5 % of the ellipsoid.
EARTH_RADIUS_KM = 6371.0088
DEFAULT_RADIUS_KM = 20.0
# A département is about 100 km across: 200 km covers a whole region and keeps the candidates few.
MAX_RADIUS_KM = 200.0
INSEE_CODE_PATTERN = r"^(?:[0-9]{5}|2[AB][0-9]{3})$"
# Two characters (01…95 without 20, 2A, 2B) or three overseas (971…976, and 977, 978, 98x for
# the other collectivities, whose INSEE codes start the same way). "20" and "97" name none.
DEPARTEMENT_PATTERN = r"^(?:0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|9[78][0-9])$"
_NEAR = re.compile(r"^\s*([+-]?[0-9]+(?:\.[0-9]+)?)\s*,\s*([+-]?[0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Where:
    insee_code: str | None = None
    departement: str | None = None
    near: Point | None = None
    radius_km: float = DEFAULT_RADIUS_KM

    def site_conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions on `Site` for the filters given (none: every site)."""
        conditions = []
        if self.insee_code is not None:
            conditions.append(Site.insee_code == self.insee_code)
        if self.departement is not None:
            conditions.append(departement_column(Site.insee_code) == self.departement)
        if self.near is not None:
            conditions.append(bounding_box(self.near, self.radius_km))
        return conditions


ANYWHERE = Where()


def departement_of(insee_code: str) -> str:
    """The département of a commune's INSEE code: its first 2 characters ("72", "2A"), or 3
    overseas, where the codes start with 97 or 98 ("97411" is in 974, La Réunion)."""
    return insee_code[:3] if insee_code[:2] in ("97", "98") else insee_code[:2]


def departement_column(insee_code) -> ColumnElement[str]:
    """`departement_of` in SQL (substr is the same function on SQLite and PostgreSQL)."""
    return case(
        (func.substr(insee_code, 1, 2).in_(("97", "98")), func.substr(insee_code, 1, 3)),
        else_=func.substr(insee_code, 1, 2),
    )


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance on the mean Earth sphere (haversine formula)."""
    lat_a, lat_b = math.radians(a.latitude), math.radians(b.latitude)
    half_chord = (
        math.sin((lat_b - lat_a) / 2) ** 2
        + math.cos(lat_a) * math.cos(lat_b) * math.sin(math.radians(b.longitude - a.longitude) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(half_chord)))


@dataclass(frozen=True)
class Box:
    south: float
    north: float
    west: float | None  # None: every longitude
    east: float | None


def box_around(centre: Point, radius_km: float) -> Box:
    """A latitude/longitude box holding every point within `radius_km` of `centre`."""
    half_height = math.degrees(radius_km / EARTH_RADIUS_KM)
    south, north = centre.latitude - half_height, centre.latitude + half_height
    widest = max(abs(south), abs(north))  # a circle spans most longitude on its poleward edge
    if widest >= 90:
        return Box(south, north, None, None)
    # Over-estimates the exact asin(sin δ / cos φ) a little: a loose box is fine, a tight one is not.
    half_width = half_height / math.cos(math.radians(widest))
    west, east = centre.longitude - half_width, centre.longitude + half_width
    if west < -180 or east > 180:  # across the antimeridian
        return Box(south, north, None, None)
    return Box(south, north, west, east)


def bounding_box(centre: Point, radius_km: float) -> ColumnElement[bool]:
    """SQL: the site lies in `box_around(centre, radius_km)`."""
    box = box_around(centre, radius_km)
    latitude_in = Site.latitude.between(box.south, box.north)
    if box.west is None:
        return latitude_in
    return and_(latitude_in, Site.longitude.between(box.west, box.east))


Row = TypeVar("Row")


def nearest_first(
    rows: Iterable[Row],
    *,
    near: Point,
    radius_km: float,
    key: Callable[[Row], Hashable],
    coordinates: Callable[[Row], tuple[float | None, float | None]],
) -> list[tuple[Row, float]]:
    """(first row of each key within the radius, distance to its nearest site), nearest first.

    `rows` come in the list's usual order, one per candidate site; a key (a convention) may have
    several. Equal distances keep that order, so the result is stable.
    """
    nearest: dict[Hashable, tuple[Row, float, int]] = {}
    for position, row in enumerate(rows):
        latitude, longitude = coordinates(row)
        if latitude is None or longitude is None:
            continue
        distance = distance_km(near, Point(latitude, longitude))
        if distance > radius_km:
            continue
        known = nearest.get(key(row))
        if known is None:
            nearest[key(row)] = (row, distance, position)
        elif distance < known[1]:
            nearest[key(row)] = (known[0], distance, known[2])
    ranked = sorted(nearest.values(), key=lambda entry: (entry[1], entry[2]))
    return [(row, distance) for row, distance, _position in ranked]


def parse_near(text: str) -> Point:
    """`"<latitude>,<longitude>"` in decimal degrees (WGS 84), e.g. `48.004,0.197`."""
    match = _NEAR.match(text)
    if match is None:
        raise ValueError("near must be '<latitude>,<longitude>' in decimal degrees, e.g. 48.004,0.197")
    latitude, longitude = float(match.group(1)), float(match.group(2))
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("near: latitude must lie in [-90, 90] and longitude in [-180, 180]")
    return Point(latitude, longitude)


def where_params(
    insee_code: Annotated[
        str | None, Query(pattern=INSEE_CODE_PATTERN, description="A site's commune, by INSEE code (72181)")
    ] = None,
    departement: Annotated[
        str | None,
        Query(
            pattern=DEPARTEMENT_PATTERN,
            description="A site's département, from its INSEE code: 72, 2A, 971…",
        ),
    ] = None,
    near: Annotated[
        str | None,
        Query(max_length=64, description="'<latitude>,<longitude>': sites within radius_km, nearest first"),
    ] = None,
    radius_km: Annotated[
        float | None,
        Query(gt=0, le=MAX_RADIUS_KM, description=f"With near: the radius in km (default {DEFAULT_RADIUS_KM:g})"),
    ] = None,
) -> Where:
    """The location filters of a query string (422 for a malformed `near`)."""
    point = None
    if near is not None:
        try:
            point = parse_near(near)
        except ValueError as error:
            raise InvalidInput(str(error), loc=["query", "near"]) from None
    elif radius_km is not None:
        raise InvalidInput("radius_km applies only with near", loc=["query", "radius_km"])
    return Where(
        insee_code=insee_code,
        departement=departement,
        near=point,
        radius_km=DEFAULT_RADIUS_KM if radius_km is None else radius_km,
    )


WhereDep = Annotated[Where, Depends(where_params)]


def rounded_km(distance: float | None) -> float | None:
    # Coordinates are rounded to about 100 m (the seed's commune centres): more digits are noise.
    return None if distance is None else round(distance, 1)
