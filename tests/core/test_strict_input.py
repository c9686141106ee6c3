"""Strict input (issue 22): no boolean read as a number in any body, and a 405 whose `Allow`
names every method the path takes, whichever route serves each."""

import re
from collections import defaultdict

import pytest


@pytest.mark.parametrize("position", [False, True])
def test_a_boolean_is_not_a_number(client, admin, position):
    response = client.post(
        "/api/v1/families", json={"code": "bool-pos", "name": "X", "position": position}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "position"]
    assert client.get("/api/v1/families/bool-pos").status_code == 404  # nothing stored
    created = client.post("/api/v1/families", json={"code": "bool-pos", "name": "X", "position": 0}, headers=admin)
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/families/bool-pos").json()["position"] == 0
    patched = client.patch("/api/v1/families/bool-pos", json={"position": True}, headers=admin)
    assert patched.status_code == 422, patched.text


def test_405_allows_every_method_the_path_takes(app, client):
    by_path: dict[str, set[str]] = defaultdict(set)
    for path, operations in app.openapi()["paths"].items():
        by_path[path] |= {method.upper() for method in operations if method != "parameters"}
    several = {path: methods for path, methods in by_path.items() if len(methods - {"HEAD"}) > 1}
    assert several, "no path takes more than one method: nothing to check"
    for path, methods in by_path.items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        response = client.request("TRACE", concrete)
        assert response.status_code == 405, (path, response.status_code)
        allowed = {method.strip() for method in response.headers["Allow"].split(",")}
        assert methods <= allowed, (path, methods, allowed)
        for method in allowed:  # and nothing it does not take
            assert client.request(method, concrete).status_code != 405, (path, method)
