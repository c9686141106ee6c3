"""Operator keys read the indicators of their own conventions only (issue 22): a scope naming
another operator or its convention is a 403, no scope means their own operator's; reader and
admin keys still read aggregates over every convention."""

URL = "/api/v1/indicators"


def _values(client, headers, **params) -> dict:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def test_an_operator_key_reads_its_own_conventions_only(client, make_key, programme):
    alpha = make_key("operator", operator_id=programme.alpha)
    for scope in ({"operator": programme.zeta}, {"convention": programme.c2}):
        response = client.get(URL, params={"year": 2020, **scope}, headers=alpha)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
    own = _values(client, alpha, year=2020, convention=programme.c1)
    assert own  # its own convention: answered

    # No scope, or grouped by operator or convention: only its own operator's figures.
    grouped = _values(client, alpha, year=2020, action=programme.a1.code, group_by="operator,convention")
    assert {row["group"]["operator"] for row in grouped} == {programme.alpha}
    assert programme.c2 not in {row["group"]["convention"] for row in grouped}
    unscoped = _values(client, alpha, year=2020, action=programme.a1.code, indicators="places_funded")
    assert unscoped[0]["values"]["places_funded"] == 2  # c1's 2 places, not c2's one more


def test_reader_and_admin_read_aggregates_over_every_convention(client, make_key, programme):
    for role in ("reader", "admin"):
        headers = make_key(role)
        rows = _values(client, headers, year=2020, action=programme.a1.code, indicators="places_funded")
        assert rows[0]["values"]["places_funded"] == 3  # c1 and c2 together
        zeta = _values(client, headers, year=2020, convention=programme.c2, indicators="places_funded")
        assert zeta[0]["values"]["places_funded"] == 1
