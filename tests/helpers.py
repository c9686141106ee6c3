"""Assertions every domain's tests share."""


def assert_problem(response, status: int, loc: list | None = None) -> dict:
    """A problem+json answer with this status (and, when given, an error at `loc`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if loc is not None:
        assert loc in [error["loc"] for error in body.get("errors", [])], body
    return body
