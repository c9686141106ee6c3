"""GET/POST /conventions/{id}/activity: counters reported by operators."""

from datetime import date, timedelta

import pytest

from app.core.time import today
from app.pathways.models import ActivityRecord
from tests.pathways.helpers import API, assert_problem


def url(convention_id: int) -> str:
    return f"{API}/conventions/{convention_id}/activity"


def test_an_operator_reports_a_counter_and_reads_it_back(client, world, session):
    response = client.post(
        url(world.convention.id),
        json={"on": "2019-03-31", "metric": "vehicle_rental_days", "quantity": 42},
        headers=world.operator_key,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["on"], created["metric"], created["quantity"]) == ("2019-03-31", "vehicle_rental_days", 42)
    assert session.get(ActivityRecord, created["id"]).recorded_on == date(2019, 3, 31)
    listed = client.get(url(world.convention.id), headers=world.operator_key).json()
    assert listed["items"] == [created] and listed["total"] == 1


def test_list_filters_by_metric_and_dates(client, admin, world, session):
    rows = [
        ActivityRecord(convention_id=world.convention.id, recorded_on=date(2019, month, 1), metric=metric, quantity=q)
        for month, metric, q in [
            (1, "workshop_sessions", 3),
            (2, "workshop_sessions", 4),
            (3, "computers_donated", 7),
            (4, "workshop_sessions", 5),
        ]
    ]
    session.add_all(rows)
    session.add(
        ActivityRecord(
            convention_id=world.other_convention.id,
            recorded_on=date(2019, 2, 1),
            metric="workshop_sessions",
            quantity=1,
        )
    )
    session.commit()

    def quantities(**query):
        response = client.get(url(world.convention.id), params=query, headers=admin)
        assert response.status_code == 200, response.text
        return [item["quantity"] for item in response.json()["items"]]

    assert quantities() == [3, 4, 7, 5]
    assert quantities(metric="workshop_sessions") == [3, 4, 5]
    assert quantities(**{"from": "2019-02-01", "to": "2019-03-01"}) == [4, 7]
    assert quantities(metric="workshop_sessions", size=2, page=2) == [5]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"on": (today() + timedelta(days=1)).isoformat(), "metric": "workshop_sessions", "quantity": 1}, "on"),
        ({"on": "2017-12-31", "metric": "workshop_sessions", "quantity": 1}, "on"),  # before the convention
        ({"on": "2019-03-01", "metric": "workshop_sessions", "quantity": -1}, "quantity"),
        ({"on": "2019-03-01", "metric": "workshop_sessions", "quantity": 1.5}, "quantity"),
        ({"on": "2019-03-01", "metric": "coffee_cups", "quantity": 1}, "metric"),
        ({"on": "2019-03-01", "metric": "workshop_sessions"}, "quantity"),
        ({"on": "2019-03-01", "metric": "workshop_sessions", "quantity": 1, "note": "x"}, "note"),
    ],
)
def test_bad_counters_are_refused(client, world, nothing_stored, body, field):
    with nothing_stored():
        problem = assert_problem(client.post(url(world.convention.id), json=body, headers=world.operator_key), 422)
    assert any(field in error["loc"] for error in problem["errors"]), problem


def test_unknown_convention_is_a_404(client, admin, nothing_stored):
    with nothing_stored():
        assert_problem(
            client.post(
                url(2_000_000_000),
                json={"on": "2019-03-01", "metric": "workshop_sessions", "quantity": 1},
                headers=admin,
            ),
            404,
        )
    assert_problem(client.get(url(2_000_000_000), headers=admin), 404)
