"""Helpers for the availability tests: GET the list, pick one convention's item."""

from datetime import date

import pytest

from app.catalogue.models import Action

URL = "/api/v1/availability"
# The day most cases look at: mid-2019, inside the factories' default convention dates.
DAY = date(2019, 6, 15)


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
