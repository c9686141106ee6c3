"""A consolidated year's figures cannot change through a convention: 409, nothing stored."""

from datetime import date

import pytest

from tests import factories
from tests.conventions.helpers import (
    URL,
    assert_problem,
    consolidate,
    conventions_with_reference,
    stored_counts,
)


@pytest.fixture
def convention(session, world):
    """From 2018-04-01 to 2020-06-30, lines 2019 and 2020; 2019 is consolidated."""
    row = factories.convention(
        session,
        operator_id=world.operator.id,
        action_id=world.action.id,
        start_on=date(2018, 4, 1),
        end_on=date(2020, 6, 30),
        years={2019: {"places": 4, "budget": 100}, 2020: {"places": 4, "budget": 100}},
    )
    consolidate(session, 2019)
    return row


@pytest.fixture
def snapshot(client, admin, session, convention):
    """A way to check that the convention and the tables were left as they were."""
    first = client.get(f"{URL}/{convention.id}", headers=admin).json()
    counts = stored_counts(session)
    return lambda: (
        client.get(f"{URL}/{convention.id}", headers=admin).json() == first and stored_counts(session) == counts
    )


def test_put_of_a_consolidated_year_is_refused(client, admin, convention, snapshot):
    problem = assert_problem(client.put(f"{URL}/{convention.id}/years/2019", json={"places": 9}, headers=admin), 409)

    assert problem["type"].endswith("period-consolidated")
    assert "2019" in problem["detail"]
    assert snapshot()


def test_put_of_an_open_year_of_the_same_convention_is_allowed(client, admin, convention):
    response = client.put(f"{URL}/{convention.id}/years/2018", json={"places": 9}, headers=admin)

    assert response.status_code == 201, response.text


def test_create_with_a_line_in_a_consolidated_year_is_refused(client, admin, session, new_body, convention):
    body = new_body(years=[{"year": 2018, "places": 1}, {"year": 2019, "places": 1}])
    before = stored_counts(session)

    assert_problem(client.post(URL, json=body, headers=admin), 409)

    assert stored_counts(session) == before
    assert conventions_with_reference(session, body["reference"]) == 0


def test_create_whose_lines_are_all_open_is_allowed(client, admin, new_body, convention):
    response = client.post(URL, json=new_body(years=[{"year": 2020, "places": 1}]), headers=admin)

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "change",
    [
        {"start_on": "2019-02-01"},  # the convention no longer covers January 2019
        {"start_on": "2019-01-02", "end_on": "2020-12-31"},
    ],
)
def test_dates_change_that_alters_a_consolidated_year_is_refused(client, admin, convention, snapshot, change):
    assert_problem(client.patch(f"{URL}/{convention.id}", json=change, headers=admin), 409)

    assert snapshot()


@pytest.mark.parametrize(
    "change",
    [
        {"start_on": "2018-01-01"},  # 2019 stays wholly covered
        {"start_on": "2019-01-01"},
        {"end_on": "2020-12-31"},
        {"start_on": "2018-07-01", "end_on": "2020-01-01"},
    ],
)
def test_dates_change_outside_consolidated_years_is_allowed(client, admin, convention, change):
    response = client.patch(f"{URL}/{convention.id}", json=change, headers=admin)

    assert response.status_code == 200, response.text
    assert all(response.json()[field] == value for field, value in change.items())


def test_other_changes_are_allowed_in_a_consolidated_year(client, admin, world, convention):
    response = client.patch(
        f"{URL}/{convention.id}", json={"status": "ended", "site_ids": [world.sites[0].id]}, headers=admin
    )

    assert response.status_code == 200, response.text


def test_extending_into_a_consolidated_year_is_refused(client, admin, session, convention, snapshot):
    """The covered part of a consolidated year grows from nothing to something: refused too."""
    consolidate(session, 2017)

    assert_problem(client.patch(f"{URL}/{convention.id}", json={"start_on": "2017-10-01"}, headers=admin), 409)
    assert snapshot()


def test_shortening_the_end_inside_a_consolidated_year_is_refused(client, admin, session, world):
    row = factories.convention(
        session,
        operator_id=world.operator.id,
        start_on=date(2019, 1, 1),
        end_on=date(2019, 12, 31),
        years={2019: {"places": 2}},
    )
    consolidate(session, 2019)
    before = client.get(f"{URL}/{row.id}", headers=admin).json()

    assert_problem(client.patch(f"{URL}/{row.id}", json={"end_on": "2019-11-30"}, headers=admin), 409)

    assert client.get(f"{URL}/{row.id}", headers=admin).json() == before
