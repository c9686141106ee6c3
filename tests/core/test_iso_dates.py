"""Date and date-time query parameters are ISO 8601 only (SPEC C2): a number is never read as a
Unix timestamp."""

import pytest

# (path, parameter, the role that may call it, other parameters it needs)
DAY_PARAMETERS = [
    ("/api/v1/availability", "on", None, {}),
    ("/api/v1/pathways", "active_on", "admin", {}),
    ("/api/v1/indicators", "from", "reader", {"to": "2019-12-31"}),
    ("/api/v1/indicators", "to", "reader", {"from": "2019-01-01"}),
    ("/api/v1/indicators", "as_of", "reader", {"year": "2019"}),
    ("/api/v1/bilan", "as_of", "reader", {"years": "2019"}),
    ("/api/v1/conventions/1/activity", "from", "admin", {}),
    ("/api/v1/conventions/1/activity", "to", "admin", {}),
]
MOMENT_PARAMETERS = [
    ("/api/v1/pathways", "updated_since", "admin", {}),
    ("/api/v1/audit-events", "since", "admin", {}),
    ("/api/v1/audit-events", "until", "admin", {}),
]


@pytest.fixture
def headers_for(make_key):
    def headers(role: str | None) -> dict[str, str]:
        return make_key(role) if role else {}

    return headers


def _call(client, headers, path, parameter, value, others):
    return client.get(path, params={**others, parameter: value}, headers=headers)


def assert_refused(response, parameter: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["query", parameter]


@pytest.mark.parametrize("path, parameter, role, others", DAY_PARAMETERS)
@pytest.mark.parametrize("value", ["0", "0.5", "1560556800", "2019-6-1", "20190601", "2019-06-01T00:00:00"])
def test_a_day_is_yyyy_mm_dd_only(client, headers_for, path, parameter, role, others, value):
    assert_refused(_call(client, headers_for(role), path, parameter, value, others), parameter)


@pytest.mark.parametrize("path, parameter, role, others", DAY_PARAMETERS)
def test_an_iso_day_is_taken(client, headers_for, path, parameter, role, others):
    response = _call(client, headers_for(role), path, parameter, "2019-06-01", others)
    assert response.status_code in (200, 404), response.text  # 404: convention 1 may not exist


@pytest.mark.parametrize("path, parameter, role, others", MOMENT_PARAMETERS)
@pytest.mark.parametrize("value", ["0", "0.5", "1560556800", "-1", "2019-06-01T10", "tomorrow"])
def test_a_moment_is_iso_8601_only(client, headers_for, path, parameter, role, others, value):
    assert_refused(_call(client, headers_for(role), path, parameter, value, others), parameter)


@pytest.mark.parametrize("path, parameter, role, others", MOMENT_PARAMETERS)
@pytest.mark.parametrize(
    "value", ["2019-06-01T10:00:00Z", "2019-06-01T12:00:00+02:00", "2019-06-01T10:00", "2019-06-01 10:00:00.123456"]
)
def test_an_iso_moment_is_taken(client, headers_for, path, parameter, role, others, value):
    assert _call(client, headers_for(role), path, parameter, value, others).status_code == 200
