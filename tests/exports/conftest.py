"""Helpers for the data·inclusion export tests: fetch every item, set the export's settings."""

import pytest

from app.core.config import get_settings

API = "/api/v1/exports/data-inclusion"
PORTAL_URL = "https://portail-rsa.example.fr/prescrire"


@pytest.fixture
def fetch_all(client):
    """`fetch_all("services", **query)` → every item of the export, page after page."""

    def fetch(kind: str, **query) -> list[dict]:
        items, page = [], 1
        while True:
            response = client.get(f"{API}/{kind}", params={**query, "page": page, "size": 500})
            assert response.status_code == 200, response.text
            body = response.json()
            items += body["items"]
            if len(items) >= body["total"]:
                return items
            page += 1

    return fetch


@pytest.fixture
def export_settings(app):
    """`export_settings(portal_url=…, source=…)`: the settings the export routes see in this test."""

    def use(**changes) -> None:
        settings = get_settings().model_copy(update=changes)
        app.dependency_overrides[get_settings] = lambda: settings

    return use
