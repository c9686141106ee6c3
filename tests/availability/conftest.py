"""Helpers for the availability tests: GET the list, pick one convention's item, places for sites."""

from datetime import date

import pytest

from app.catalogue.models import Action

URL = "/api/v1/availability"
# The day most cases look at: mid-2019, inside the factories' default convention dates.
DAY = date(2019, 6, 15)

# Commune centres (as in seed/operators.toml) and their distance from Le Mans's.
LE_MANS = "48.004,0.197"
COULAINES = {"commune": "Coulaines", "insee_code": "72095", "latitude": 48.026, "longitude": 0.205}  # 2.5 km
ALLONNES = {"commune": "Allonnes", "insee_code": "72003", "latitude": 47.968, "longitude": 0.161}  # 4.8 km
LA_FLECHE = {"commune": "La Flèche", "insee_code": "72154", "latitude": 47.700, "longitude": -0.076}  # 39.5 km
AJACCIO = {"commune": "Ajaccio", "insee_code": "2A004", "latitude": 41.927, "longitude": 8.737}
SAINT_DENIS = {"commune": "Saint-Denis", "insee_code": "97411", "latitude": -20.882, "longitude": 55.450}
NOWHERE = {"commune": "Quelque part"}  # no INSEE code, no coordinates


@pytest.fixture
def get_availability(client):
    """`get_availability(**query)` → the HTTP response of GET /availability."""

    def get(headers: dict[str, str] | None = None, **query):
        return client.get(URL, params=query, headers=headers or {})

    return get


@pytest.fixture
def availability_of(session, get_availability):
    """`availability_of(convention, on=DAY)` → its item, from the list filtered by its own action."""

    def item(convention, on: date = DAY) -> dict:
        action_code = session.get(Action, convention.action_id).code
        response = get_availability(on=on.isoformat(), action=action_code)
        assert response.status_code == 200, response.text
        items = [item for item in response.json()["items"] if item["convention_id"] == convention.id]
        assert len(items) == 1, response.json()
        return items[0]

    return item
