"""GET /indicators and GET /reference/indicators over HTTP, on the hand-built programme of
conftest.py."""

import pytest

from app.core.time import today
from app.indicators.engine.framework import INDICATOR_CODES
from app.periods.models import Period, PeriodStatus
from app.reference.indicators import INDICATORS

URL = "/api/v1/indicators"


def get(client, headers, **params):
    return client.get(URL, params=params, headers=headers)


def problem(response, status: int, loc: list | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    if loc is not None:
        assert loc in [error["loc"] for error in body["errors"]], body
    return body


def test_answers_the_documented_shape_for_a_year(client, reader, programme):
    response = get(client, reader, year=2019, action=programme.a1.code, as_of="2020-06-30")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == "2020-06-30"
    assert (body["from"], body["to"]) == ("2019-01-01", "2019-12-31")
    [row] = body["rows"]
    assert row["group"] == {}
    assert set(row["values"]) == set(INDICATOR_CODES)
    assert row["consolidated"] is False
    assert "targets" not in row
    values = row["values"]
    assert (values["places_funded"], values["budget"], values["persons_present"], values["exits"]) == (2, 1200, 2, 1)
    assert values["occupancy_rate"] == pytest.approx(549 / 730)  # 365 + 184 days for 2 × 365 planned
    assert values["dynamic_exit_rate"] == 1.0
    assert values["cost_per_person"] == 600.0


def test_every_key_holder_may_read_indicators_but_not_anonymous(client, make_key, programme):
    problem(client.get(URL, params={"year": 2019}), 401)
    for role in ("reader", "portal", "admin"):
        assert get(client, make_key(role), year=2019, action=programme.a1.code).status_code == 200
    operator_key = make_key("operator", operator_id=programme.alpha)
    assert get(client, operator_key, year=2019, action=programme.a1.code).status_code == 200


def test_as_of_defaults_to_today_then_to_the_end_of_a_consolidated_period(client, reader, admin, programme):
    body = get(client, reader, year=2019, action=programme.a1.code).json()
    assert body["as_of"] == today().isoformat()
    assert body["rows"][0]["consolidated"] is False

    assert client.post("/api/v1/periods/2019/consolidate", headers=admin).status_code == 200
    body = get(client, reader, year=2019, action=programme.a1.code).json()
    assert body["as_of"] == "2019-12-31"
    assert body["rows"][0]["consolidated"] is True
    # A window reaching into an open year is computed as of today, and is not consolidated.
    body = get(client, reader, **{"from": "2019-06-01", "to": "2020-05-31"}, action=programme.a1.code).json()
    assert body["as_of"] == today().isoformat()
    assert body["rows"][0]["consolidated"] is False


def test_group_by_year_over_a_window_gives_one_row_per_year_on_its_part_of_the_window(client, reader, programme):
    body = get(
        client,
        reader,
        **{"from": "2019-07-01", "to": "2020-06-30"},
        as_of="2020-12-31",
        action=programme.a1.code,
        group_by="year",
    ).json()
    assert (body["from"], body["to"]) == ("2019-07-01", "2020-06-30")
    rows = {row["group"]["year"]: row["values"] for row in body["rows"]}
    assert [row["group"] for row in body["rows"]] == [{"year": 2019}, {"year": 2020}]
    # 2019-07-01..12-31: b1 and b2 184 days each, 2 places × 184 planned.
    assert rows[2019]["occupancy_rate"] == pytest.approx(1.0)
    # 2020-01-01..06-30: b2 182 days; C1 2 places and C2 1 place over 182 days.
    assert rows[2020]["occupancy_rate"] == pytest.approx(182 / (3 * 182))
    assert rows[2020]["places_funded"] == 3


def test_group_by_combinations_key_rows_by_codes_and_ids_in_a_stable_order(client, reader, programme):
    codes = f"{programme.a1.code},{programme.a2.code}"
    body = get(client, reader, year=2020, as_of="2020-06-30", action=codes, group_by="action,operator").json()
    groups = [row["group"] for row in body["rows"]]
    alpha_zeta = sorted([programme.alpha, programme.zeta])
    assert groups == [
        {"action": programme.a1.code, "operator": alpha_zeta[0]},
        {"action": programme.a1.code, "operator": alpha_zeta[1]},
        {"action": programme.a2.code, "operator": programme.alpha},
    ]
    by_group = {(row["group"]["action"], row["group"]["operator"]): row["values"] for row in body["rows"]}
    assert by_group[(programme.a1.code, programme.zeta)]["places_funded"] == 1
    assert by_group[(programme.a1.code, programme.zeta)]["persons_present"] == 0
    assert by_group[(programme.a1.code, programme.alpha)]["persons_present"] == 1

    repeated = client.get(
        URL,
        params=[
            ("year", 2020),
            ("as_of", "2020-06-30"),
            ("action", programme.a1.code),
            ("action", programme.a2.code),
            ("group_by", "action"),
            ("group_by", "operator"),
        ],
        headers=reader,
    ).json()
    assert repeated == body

    body = get(
        client, reader, year=2019, as_of="2019-12-31", family=programme.family_code, group_by="family,territory,year"
    ).json()
    assert [row["group"] for row in body["rows"]] == [
        {"family": programme.family_code, "territory": "rural", "year": 2019},
        {"family": programme.family_code, "territory": "urban", "year": 2019},
    ]
    rural = body["rows"][0]["values"]
    assert rural["persons_present"] == 1
    assert rural["hours_threshold_reached"] == 1
    assert rural["mean_entry_delay_days"] == 9.0
    assert rural["vehicle_rental_days"] == 10  # activity has no territory: the family's, unsplit


def test_indicators_narrows_the_values(client, reader, programme):
    body = get(client, reader, year=2019, action=programme.a2.code, indicators="vehicle_rental_days,budget_fse").json()
    assert body["rows"][0]["values"] == {"vehicle_rental_days": 10, "budget_fse": 400.0}


def test_rows_grouped_by_convention_within_a_year_carry_its_targets(client, reader, programme):
    body = get(
        client, reader, year=2019, action=programme.a1.code, group_by="convention", indicators="persons_present"
    ).json()
    [row] = body["rows"]  # C2 has nothing in 2019
    assert row["group"] == {"convention": programme.c1}
    assert row["targets"] == {"persons_present": 3.0}
    assert row["values"] == {"persons_present": 2}

    body = get(
        client,
        reader,
        **{"from": "2019-01-01", "to": "2020-12-31"},
        as_of="2020-12-31",
        action=programme.a1.code,
        group_by="convention,year",
        indicators="persons_present",
    ).json()
    targets = {(row["group"]["convention"], row["group"]["year"]): row["targets"] for row in body["rows"]}
    assert targets[(programme.c1, 2019)] == {"persons_present": 3.0}
    assert targets[(programme.c1, 2020)] == {}

    body = get(
        client,
        reader,
        **{"from": "2019-01-01", "to": "2020-12-31"},
        as_of="2020-12-31",
        action=programme.a1.code,
        group_by="convention",
    ).json()
    assert all("targets" not in row for row in body["rows"])  # two years: no single target


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, ["query", "year"]),
        ({"year": 2019, "from": "2019-01-01", "to": "2019-12-31"}, ["query", "year"]),
        ({"from": "2019-01-01"}, ["query", "to"]),
        ({"to": "2019-01-01"}, ["query", "from"]),
        ({"from": "2019-06-01", "to": "2019-01-01"}, ["query", "to"]),
        ({"from": "1019-06-01", "to": "2019-01-01"}, ["query", "from"]),
        ({"year": 1990}, ["query", "year"]),
        ({"year": "last"}, ["query", "year"]),
        ({"year": 2019, "as_of": "2018-12-31"}, ["query", "as_of"]),
        ({"year": 2019, "as_of": "yesterday"}, ["query", "as_of"]),
        ({"year": 2019, "group_by": "action,site"}, ["query", "group_by"]),
        ({"year": 2019, "indicators": "exits,happiness"}, ["query", "indicators"]),
        ({"year": 2019, "territory": "suburban"}, ["query", "territory"]),
        ({"year": 2019, "operator": "alpha"}, ["query", "operator"]),
    ],
)
def test_bad_queries_are_422_problems(client, reader, params, loc):
    problem(get(client, reader, **params), 422, loc)


@pytest.mark.parametrize("filter_name", ["action", "family", "operator", "convention"])
def test_a_filter_naming_nothing_is_a_404(client, reader, filter_name):
    value = {"action": "no-such-action", "family": "no-such-family", "operator": 10**9, "convention": 10**9}[
        filter_name
    ]
    body = problem(get(client, reader, year=2019, **{filter_name: value}), 404)
    assert str(value) in body["detail"]


def test_consolidated_flags_follow_each_year_group(client, reader, session, programme):
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.commit()
    body = get(
        client,
        reader,
        **{"from": "2019-01-01", "to": "2020-12-31"},
        as_of="2020-12-31",
        action=programme.a1.code,
        group_by="year",
    ).json()
    assert [(row["group"]["year"], row["consolidated"]) for row in body["rows"]] == [(2019, True), (2020, False)]


def test_reference_indicators_is_public_and_lists_every_indicator(client):
    response = client.get("/api/v1/reference/indicators")
    assert response.status_code == 200
    body = response.json()
    assert [item["code"] for item in body] == [indicator.code for indicator in INDICATORS]
    occupancy = next(item for item in body if item["code"] == "occupancy_rate")
    assert occupancy["label"] == "Taux de réalisation de l'action"
    assert occupancy["unit"] == "rate"
    assert occupancy["definition"]
    assert set(body[0]) == {"code", "label", "definition", "unit", "base"}
    assert occupancy["base"] is None  # not about persons: never withheld
    refusal = next(item for item in body if item["code"] == "refusal_rate")
    assert refusal["base"] == {"persons": "decisions", "part": "refusals"}
