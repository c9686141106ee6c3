"""GET /availability by place: insee_code, departement, near + radius_km (sorted by distance)."""

import pytest

from tests import factories
from tests.availability.conftest import AJACCIO, ALLONNES, COULAINES, DAY, LA_FLECHE, LE_MANS, NOWHERE, SAINT_DENIS
from tests.catalogue.helpers import assert_problem


class Places:
    """Conventions of one new action, each with the sites given; `listed(**query)` names those
    GET /availability lists, in its order."""

    def __init__(self, session, get_availability, **sites_by_name):
        action = factories.action(session)
        self.action_code = action.code
        self.get_availability = get_availability
        self.names = {}
        for name, sites in sites_by_name.items():
            operator = factories.operator(session, name=f"Opérateur {name}")
            site_ids = [factories.site(session, operator_id=operator.id, **fields).id for fields in sites]
            convention = factories.convention(
                session, action_id=action.id, operator_id=operator.id, site_ids=site_ids, years={2019: {"places": 12}}
            )
            self.names[convention.id] = name
        session.commit()

    def response(self, **query):
        return self.get_availability(on=DAY.isoformat(), action=self.action_code, **query)

    def listed(self, **query) -> list[str]:
        response = self.response(**query)
        assert response.status_code == 200, response.text
        return [self.names[item["convention_id"]] for item in response.json()["items"]]


@pytest.fixture
def places(session, get_availability):
    return lambda **sites_by_name: Places(session, get_availability, **sites_by_name)


def test_insee_code_keeps_conventions_with_a_site_in_that_commune(places):
    made = places(coulaines=[COULAINES], allonnes=[ALLONNES], both=[ALLONNES, COULAINES], nowhere=[NOWHERE])
    assert made.listed(insee_code="72095") == ["both", "coulaines"]  # the usual order: operator name
    assert made.listed(insee_code="72003") == ["allonnes", "both"]
    assert made.listed(insee_code="75056") == []


def test_departement_comes_from_the_insee_code(places):
    made = places(sarthe=[COULAINES], corse=[AJACCIO], reunion=[SAINT_DENIS], nowhere=[NOWHERE])
    assert made.listed(departement="72") == ["sarthe"]
    assert made.listed(departement="2A") == ["corse"]
    assert made.listed(departement="2B") == []
    assert made.listed(departement="974") == ["reunion"]


def test_near_keeps_sites_within_the_radius_nearest_first(places):
    made = places(la_fleche=[LA_FLECHE], allonnes=[ALLONNES], coulaines=[COULAINES], nowhere=[NOWHERE], corse=[AJACCIO])
    response = made.response(near=LE_MANS)  # radius_km: 20 by default
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [made.names[item["convention_id"]] for item in items] == ["coulaines", "allonnes"]
    assert [item["distance_km"] for item in items] == [2.5, 4.8]
    assert response.json()["total"] == 2
    assert made.listed(near=LE_MANS, radius_km=40) == ["coulaines", "allonnes", "la_fleche"]
    assert made.listed(near=LE_MANS, radius_km=3) == ["coulaines"]


def test_a_convention_is_as_near_as_its_nearest_site(places):
    made = places(allonnes=[ALLONNES], two_sites=[LA_FLECHE, COULAINES])
    response = made.response(near=LE_MANS)
    items = response.json()["items"]
    assert [made.names[item["convention_id"]] for item in items] == ["two_sites", "allonnes"]
    assert items[0]["distance_km"] == 2.5
    assert len(items[0]["sites"]) == 2  # the item still lists all its sites


def test_near_pages_through_the_sorted_list(places):
    made = places(la_fleche=[LA_FLECHE], allonnes=[ALLONNES], coulaines=[COULAINES])
    pages = [made.response(near=LE_MANS, radius_km=50, size=2, page=page).json() for page in (1, 2, 3)]
    assert [[made.names[item["convention_id"]] for item in page["items"]] for page in pages] == [
        ["coulaines", "allonnes"],
        ["la_fleche"],
        [],
    ]
    assert {page["total"] for page in pages} == {3}


def test_filters_combine_on_the_same_site(places):
    made = places(coulaines=[COULAINES], allonnes_and_la_fleche=[ALLONNES, LA_FLECHE])
    assert made.listed(near=LE_MANS, insee_code="72154") == []  # La Flèche is not within 20 km
    assert made.listed(near=LE_MANS, insee_code="72154", radius_km=45) == ["allonnes_and_la_fleche"]
    assert made.listed(near=LE_MANS, departement="72") == ["coulaines", "allonnes_and_la_fleche"]


def test_without_near_there_is_no_distance(places):
    made = places(coulaines=[COULAINES])
    assert made.response().json()["items"][0]["distance_km"] is None


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"near": "48.004"}, ["query", "near"]),
        ({"near": "48.004;0.197"}, ["query", "near"]),
        ({"near": "north,east"}, ["query", "near"]),
        ({"near": "91,0"}, ["query", "near"]),
        ({"near": "48,181"}, ["query", "near"]),
        ({"near": "nan,0"}, ["query", "near"]),
        ({"near": LE_MANS, "radius_km": 0}, ["query", "radius_km"]),
        ({"near": LE_MANS, "radius_km": 201}, ["query", "radius_km"]),
        ({"near": LE_MANS, "radius_km": "far"}, ["query", "radius_km"]),
        ({"radius_km": 10}, ["query", "radius_km"]),
        ({"insee_code": "7218"}, ["query", "insee_code"]),
        ({"insee_code": "2C004"}, ["query", "insee_code"]),
        ({"departement": "97"}, ["query", "departement"]),
        ({"departement": "20"}, ["query", "departement"]),
        ({"departement": "2a"}, ["query", "departement"]),
        ({"departement": "720"}, ["query", "departement"]),
    ],
)
def test_bad_place_filters_are_422(get_availability, query, loc):
    assert_problem(get_availability(on=DAY.isoformat(), **query), 422, loc)


def test_the_seed_sites_can_be_found_near_le_mans(get_availability):
    """The seed's commune centres work with the filter: the CCAS du Mans is at the centre."""
    response = get_availability(on="2019-06-15", action="public-seul-sans-enfant", near=LE_MANS, size=500)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["operator_name"] for item in items] == ["CCAS du Mans", "CCAS d'Allonnes"]  # the others: ~40 km
    assert items[0]["distance_km"] == 0
    assert items[0]["sites"][0]["insee_code"] == "72181"
