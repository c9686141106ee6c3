"""Writes that would change a consolidated year's figures are a 409 and store nothing; the same
writes outside that year go through (so the 409 comes from the year, not from something else)."""

from datetime import date

import pytest

from tests.pathways.helpers import API, assert_problem, consolidate, pathway_body, stored_pathway

URL = f"{API}/pathways"
CLOSED = 2019


def assert_consolidated(response) -> None:
    problem = assert_problem(response, 409)
    assert problem["type"].endswith("/period-consolidated")
    assert str(CLOSED) in problem["detail"]


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"prescribed_on": "2019-12-20"}, True),
        ({"prescribed_on": "2020-01-05"}, False),
        (
            {
                "prescribed_on": "2018-12-01",
                "entered_on": "2018-12-15",
                "exited_on": "2018-12-20",
                "exit_reason": "other",
            },
            False,
        ),
        # an open stay from 2018 runs through 2019
        ({"prescribed_on": "2018-12-01", "entered_on": "2018-12-15"}, True),
        (
            {
                "prescribed_on": "2018-12-01",
                "entered_on": "2018-12-15",
                "exited_on": "2020-01-10",
                "exit_reason": "other",
            },
            True,
        ),
    ],
)
def test_create(client, admin, world, session, nothing_stored, fields, refused):
    consolidate(session, CLOSED)
    body = pathway_body(world.convention.id) | fields
    if refused:
        with nothing_stored():
            assert_consolidated(client.post(URL, json=body, headers=admin))
    else:
        assert client.post(URL, json=body, headers=admin).status_code == 201


@pytest.mark.parametrize(
    ("existing", "patch", "refused"),
    [
        ({"prescribed_on": date(2020, 1, 10), "entered_on": date(2020, 2, 1)}, {"entered_on": "2020-01-20"}, False),
        # the new value falls in 2019
        ({"prescribed_on": date(2019, 12, 1), "entered_on": date(2020, 2, 1)}, {"entered_on": "2019-12-20"}, True),
        # the old value does
        ({"prescribed_on": date(2019, 12, 1)}, {"prescribed_on": "2020-01-05"}, True),
        (
            {
                "prescribed_on": date(2019, 3, 1),
                "entered_on": date(2019, 4, 1),
                "exited_on": date(2019, 6, 1),
                "exit_reason": "other",
            },
            {"exit_reason": "training"},
            True,
        ),
        # hours count for every year of the stay
        (
            {
                "prescribed_on": date(2019, 3, 1),
                "entered_on": date(2019, 4, 1),
                "exited_on": date(2020, 2, 1),
                "exit_reason": "other",
            },
            {"hours": 300},
            True,
        ),
        ({"prescribed_on": date(2020, 3, 1), "entered_on": date(2020, 4, 1)}, {"hours": 300}, False),
        ({"prescribed_on": date(2020, 3, 1), "entered_on": date(2020, 4, 1)}, {"planned_end_on": "2020-10-01"}, False),
    ],
)
def test_patch(client, admin, world, session, nothing_stored, existing, patch, refused):
    pathway = stored_pathway(session, world.convention.id, **existing)
    consolidate(session, CLOSED)
    if refused:
        with nothing_stored():
            assert_consolidated(client.patch(f"{URL}/{pathway.id}", json=patch, headers=admin))
    else:
        assert client.patch(f"{URL}/{pathway.id}", json=patch, headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("prescribed_on", "entered_on", "refused"),
    [
        (date(2019, 11, 1), "2019-12-01", True),
        (date(2019, 11, 1), "2020-01-02", False),  # the prescription of 2019 is not changed by the entry
        (date(2020, 1, 1), "2020-01-02", False),
    ],
)
def test_entry(client, admin, world, session, nothing_stored, prescribed_on, entered_on, refused):
    pathway = stored_pathway(session, world.convention.id, prescribed_on=prescribed_on)
    consolidate(session, CLOSED)
    body = {"entered_on": entered_on}
    if refused:
        with nothing_stored():
            assert_consolidated(client.post(f"{URL}/{pathway.id}/entry", json=body, headers=admin))
    else:
        assert client.post(f"{URL}/{pathway.id}/entry", json=body, headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("entered_on", "exited_on", "refused"),
    [
        (date(2019, 3, 1), "2019-06-01", True),
        # a late exit from 2018 shortens a stay that had run through 2019
        (date(2018, 3, 1), "2018-06-01", True),
        (date(2019, 3, 1), "2020-02-01", False),  # 2019's stay (up to 31 December) is unchanged
        (date(2020, 3, 1), "2020-06-01", False),
    ],
)
def test_exit(client, admin, world, session, nothing_stored, entered_on, exited_on, refused):
    pathway = stored_pathway(session, world.convention.id, prescribed_on=entered_on, entered_on=entered_on)
    consolidate(session, CLOSED)
    body = {"exited_on": exited_on, "exit_reason": "training"}
    if refused:
        with nothing_stored():
            assert_consolidated(client.post(f"{URL}/{pathway.id}/exit", json=body, headers=admin))
    else:
        assert client.post(f"{URL}/{pathway.id}/exit", json=body, headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("prescribed_on", "cancelled_on", "refused"),
    [
        (date(2019, 11, 1), "2019-11-20", True),
        (date(2019, 11, 1), "2020-01-05", True),  # the prescription of 2019 would leave its counts
        (date(2020, 1, 2), "2020-01-05", False),
    ],
)
def test_cancel(client, admin, world, session, nothing_stored, prescribed_on, cancelled_on, refused):
    pathway = stored_pathway(session, world.convention.id, prescribed_on=prescribed_on)
    consolidate(session, CLOSED)
    body = {"cancelled_on": cancelled_on, "cancel_reason": "Déménagement"}
    if refused:
        with nothing_stored():
            assert_consolidated(client.post(f"{URL}/{pathway.id}/cancel", json=body, headers=admin))
    else:
        assert client.post(f"{URL}/{pathway.id}/cancel", json=body, headers=admin).status_code == 200


def test_exit_record(client, admin, world, session, nothing_stored):
    closed = stored_pathway(session, world.convention.id, "C-1", entered_on=date(2019, 3, 1))
    open_ = stored_pathway(session, world.convention.id, "C-2", entered_on=date(2020, 3, 1))
    consolidate(session, CLOSED)
    items = [
        {"pathway_id": closed.id, "exited_on": "2019-06-01", "exit_reason": "training"},
        {"pathway_id": open_.id, "exited_on": "2020-06-01", "exit_reason": "training"},
    ]
    with nothing_stored():
        refused = client.post(f"{API}/exit-records", json=items[:1], headers=admin)
    assert refused.status_code == 200
    result = refused.json()["results"][0]
    assert result["status"] == "error"
    assert result["problem"]["status"] == 409 and result["problem"]["type"].endswith("/period-consolidated")
    accepted = client.post(f"{API}/exit-records", json=items[1:], headers=admin)
    assert accepted.json()["counts"] == {"created": 1, "unchanged": 0, "error": 0}


@pytest.mark.parametrize(("on", "refused"), [("2019-05-01", True), ("2020-05-01", False)])
def test_activity_record(client, admin, world, session, nothing_stored, on, refused):
    consolidate(session, CLOSED)
    url = f"{API}/conventions/{world.convention.id}/activity"
    body = {"on": on, "metric": "vehicle_rental_days", "quantity": 12}
    if refused:
        with nothing_stored():
            assert_consolidated(client.post(url, json=body, headers=admin))
    else:
        assert client.post(url, json=body, headers=admin).status_code == 201


def test_a_new_pathway_with_other_characteristics_leaves_a_consolidated_year_alone(client, admin, world, session):
    """Characteristics are recorded per pathway: recording the person elsewhere, in another
    territory, changes nothing of the pathway counted in the consolidated year."""
    stored_pathway(
        session,
        world.convention.id,
        "MOVER-1",
        prescribed_on=date(2019, 2, 1),
        entered_on=date(2019, 3, 1),
        exited_on=date(2019, 6, 1),
        exit_reason="training",
    )
    consolidate(session, CLOSED)
    body = pathway_body(world.convention.id, "MOVER-1", prescribed_on="2020-09-01", beneficiary={"territory": "rural"})
    assert client.post(URL, json=body, headers=admin).status_code == 201


@pytest.mark.parametrize(("stay_year", "refused"), [(2019, True), (2020, False)])
def test_moving_a_pathway_present_in_a_consolidated_year(client, admin, world, session, stay_year, refused):
    """Territory-scoped figures count each pathway in its territory: moving one whose stay
    covers a consolidated year would change that year's figures."""
    pathway = stored_pathway(
        session,
        world.convention.id,
        "MOVER-2",
        prescribed_on=date(stay_year, 2, 1),
        entered_on=date(stay_year, 3, 1),
        exited_on=date(stay_year, 6, 1),
        exit_reason="training",
    )
    consolidate(session, CLOSED)
    response = client.patch(f"{URL}/{pathway.id}", json={"beneficiary": {"territory": "rural"}}, headers=admin)
    if refused:
        assert_consolidated(response)
    else:
        assert response.status_code == 200, response.text
        assert response.json()["beneficiary"]["territory"] == "rural"
