"""The location filters' arithmetic (app/availability/where.py): départements, distances, the
SQL prefilter box, the order of nearest_first and the parsing of `near`."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.availability.where import (
    EARTH_RADIUS_KM,
    MAX_RADIUS_KM,
    Point,
    box_around,
    departement_of,
    distance_km,
    nearest_first,
    parse_near,
)

LE_MANS = Point(48.004, 0.197)


@pytest.mark.parametrize(
    ("insee_code", "departement"),
    [
        ("72181", "72"),
        ("01053", "01"),
        ("2A004", "2A"),
        ("2B033", "2B"),
        ("97411", "974"),
        ("97101", "971"),
        ("97502", "975"),
        ("98735", "987"),
        ("95127", "95"),
    ],
)
def test_departement_of(insee_code, departement):
    assert departement_of(insee_code) == departement


def test_distances():
    assert distance_km(LE_MANS, LE_MANS) == 0
    # One degree along the equator is 2πR/360.
    assert distance_km(Point(0, 10), Point(0, 11)) == pytest.approx(2 * math.pi * EARTH_RADIUS_KM / 360)
    assert distance_km(Point(90, 0), Point(-90, 0)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    # Across the antimeridian, the short way round.
    assert distance_km(Point(0, 179.5), Point(0, -179.5)) == pytest.approx(2 * math.pi * EARTH_RADIUS_KM / 360)
    # Le Mans – La Flèche, commune centres: about 40 km as the crow flies.
    assert distance_km(LE_MANS, Point(47.700, -0.076)) == pytest.approx(39.5, abs=1)


def destination(start: Point, bearing_degrees: float, km: float) -> Point:
    """The point `km` away from `start` on the sphere, heading `bearing_degrees` from north."""
    angle, bearing = km / EARTH_RADIUS_KM, math.radians(bearing_degrees)
    lat1, lon1 = math.radians(start.latitude), math.radians(start.longitude)
    lat2 = math.asin(math.sin(lat1) * math.cos(angle) + math.cos(lat1) * math.sin(angle) * math.cos(bearing))
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(angle) * math.cos(lat1), math.cos(angle) - math.sin(lat1) * math.sin(lat2)
    )
    longitude = (math.degrees(lon2) + 540) % 360 - 180
    return Point(math.degrees(lat2), longitude)


@given(
    latitude=st.floats(-89.9, 89.9),
    longitude=st.floats(-180, 180),
    radius=st.floats(0.1, MAX_RADIUS_KM),
    fraction=st.floats(0, 0.999),
    bearing=st.floats(0, 360),
)
def test_the_box_holds_every_point_within_the_radius(latitude, longitude, radius, fraction, bearing):
    centre = Point(latitude, longitude)
    point = destination(centre, bearing, radius * fraction)
    assert distance_km(centre, point) == pytest.approx(radius * fraction, abs=1e-6)
    box = box_around(centre, radius)
    assert box.south <= point.latitude <= box.north
    if box.west is not None:
        assert box.west <= point.longitude <= box.east


def test_the_box_is_not_much_larger_than_the_circle_in_france():
    box = box_around(LE_MANS, 20)
    north_south_km = distance_km(Point(box.south, LE_MANS.longitude), Point(box.north, LE_MANS.longitude))
    west_east_km = distance_km(Point(LE_MANS.latitude, box.west), Point(LE_MANS.latitude, box.east))
    assert north_south_km == pytest.approx(40)
    assert 40 <= west_east_km <= 41


def test_near_a_pole_or_the_antimeridian_longitude_is_left_free():
    assert box_around(Point(89.95, 10), 20).west is None
    assert box_around(Point(0, 179.9), 20).west is None
    assert box_around(Point(0, -179.9), 20).east is None


def test_nearest_first_keeps_each_key_once_at_its_nearest_site_within_the_radius():
    rows = [  # (key, latitude, longitude), in the list's usual order
        ("a", 47.700, -0.076),  # La Flèche, 39.5 km
        ("b", 47.968, 0.161),  # Allonnes, 4.8 km
        ("a", 48.026, 0.205),  # Coulaines, 2.5 km: a's nearest site
        ("c", None, None),  # no coordinates: never near anything
        ("d", 48.350, 0.370),  # Mamers, 40.6 km: beyond 40 km
        ("e", 47.968, 0.161),  # Allonnes again: a tie with b, kept after it
    ]
    ranked = nearest_first(rows, near=LE_MANS, radius_km=40, key=lambda row: row[0], coordinates=lambda row: row[1:])
    assert [(row[0], round(distance, 1)) for row, distance in ranked] == [("a", 2.5), ("b", 4.8), ("e", 4.8)]
    assert ranked[0][0] == rows[0]  # the key's first row within the radius stands for it


@pytest.mark.parametrize(
    ("text", "point"),
    [("48.004,0.197", Point(48.004, 0.197)), (" -21.1 , 55.5 ", Point(-21.1, 55.5)), ("90,-180", Point(90, -180))],
)
def test_parse_near(text, point):
    assert parse_near(text) == point


@pytest.mark.parametrize(
    "text", ["", "48.004", "48.004;0.197", "48,004,0,197", "nan,0", "inf,0", "1e3,0", "91,0", "0,180.5", "a,b"]
)
def test_parse_near_refuses(text):
    with pytest.raises(ValueError):
        parse_near(text)
