"""Every input rule on conventions: a problem+json 4xx, and nothing stored."""

from datetime import date

import pytest

from tests import factories
from tests.conventions.helpers import URL, World, assert_problem, conventions_with_reference, stored_counts

LINE = {"year": 2019, "places": 10, "budget": 1000}


def line(**fields) -> list[dict]:
    return [{**LINE, **fields}]


# (case id, overrides of a valid body given the world, expected error loc)
CREATE_CASES = [
    ("unknown field", lambda w: {"colour": "red"}, ["body", "colour"]),
    ("unknown field in a year", lambda w: {"years": line(seats=3)}, ["body", "years", 0, "seats"]),
    ("empty reference", lambda w: {"reference": ""}, ["body", "reference"]),
    ("blank reference", lambda w: {"reference": "   "}, ["body", "reference"]),
    ("reference over 64 chars", lambda w: {"reference": "R" * 65}, ["body", "reference"]),
    ("unknown action", lambda w: {"action": "no-such-action"}, ["body", "action"]),
    ("unknown operator", lambda w: {"operator_id": 2147483647}, ["body", "operator_id"]),
    ("operator id out of range", lambda w: {"operator_id": 10**20}, ["body", "operator_id"]),
    ("unknown site", lambda w: {"site_ids": [2147483647]}, ["body", "site_ids", 0]),
    ("site of another operator", lambda w: {"site_ids": [w.sites[0].id, w.other_site.id]}, ["body", "site_ids", 1]),
    ("end before start", lambda w: {"start_on": "2020-01-02", "end_on": "2020-01-01"}, ["body", "end_on"]),
    ("impossible date", lambda w: {"end_on": "2020-02-30"}, ["body", "end_on"]),
    ("unknown status", lambda w: {"status": "paused"}, ["body", "status"]),
    ("negative places", lambda w: {"years": line(places=-1)}, ["body", "years", 0, "places"]),
    ("negative budget", lambda w: {"years": line(budget=-0.01)}, ["body", "years", 0, "budget"]),
    ("budget with fractions of cents", lambda w: {"years": line(budget=10.005)}, ["body", "years", 0, "budget"]),
    ("budget too large", lambda w: {"years": line(budget=10**13)}, ["body", "years", 0, "budget"]),
    ("negative fse", lambda w: {"years": line(fse_amount=-1)}, ["body", "years", 0, "fse_amount"]),
    ("fse over budget", lambda w: {"years": line(budget=1000, fse_amount=1000.01)}, ["body", "years", 0, "fse_amount"]),
    ("fse without budget", lambda w: {"years": line(budget=None, fse_amount=10)}, ["body", "years", 0, "fse_amount"]),
    ("months_per_place 0", lambda w: {"years": line(months_per_place=0)}, ["body", "years", 0, "months_per_place"]),
    ("months_per_place 13", lambda w: {"years": line(months_per_place=13)}, ["body", "years", 0, "months_per_place"]),
    ("months_per_place 1.5", lambda w: {"years": line(months_per_place=1.5)}, ["body", "years", 0, "months_per_place"]),
    (
        "months_per_place null",
        lambda w: {"years": line(months_per_place=None)},
        ["body", "years", 0, "months_per_place"],
    ),
    (
        "negative hours threshold",
        lambda w: {"years": line(hours_threshold=-1)},
        ["body", "years", 0, "hours_threshold"],
    ),
    ("unknown budget kind", lambda w: {"years": line(budget_kind="hoped")}, ["body", "years", 0, "budget_kind"]),
    (
        "target of an unknown indicator",
        lambda w: {"years": line(targets={"happiness": 1})},
        ["body", "years", 0, "targets", "happiness", "[key]"],
    ),
    ("negative target", lambda w: {"years": line(targets={"entries": -1})}, ["body", "years", 0, "targets", "entries"]),
    (
        "target as text",
        lambda w: {"years": line(targets={"entries": "12"})},
        ["body", "years", 0, "targets", "entries"],
    ),
    (
        "target as boolean",
        lambda w: {"years": line(targets={"entries": True})},
        ["body", "years", 0, "targets", "entries"],
    ),
    ("year before the dates", lambda w: {"years": line(year=1990)}, ["body", "years", 0, "year"]),
    ("year after the dates", lambda w: {"years": [LINE, {**LINE, "year": 2021}]}, ["body", "years", 1, "year"]),
    ("year given twice", lambda w: {"years": [LINE, {**LINE, "places": 1}]}, ["body", "years", 1, "year"]),
    ("year missing", lambda w: {"years": [{"places": 1}]}, ["body", "years", 0, "year"]),
] + [
    (f"{field} missing", lambda w, field=field: {field: None}, ["body", field])
    for field in ("reference", "action", "operator_id", "start_on", "end_on")
]


@pytest.mark.parametrize(
    ("overrides", "loc"), [case[1:] for case in CREATE_CASES], ids=[case[0] for case in CREATE_CASES]
)
def test_create_refuses_bad_input(client, admin, session, world: World, new_body, overrides, loc):
    body = new_body(**overrides(world))
    body = {key: value for key, value in body.items() if value is not None}
    before = stored_counts(session)

    assert_problem(client.post(URL, json=body, headers=admin), 422, loc)

    assert stored_counts(session) == before
    assert conventions_with_reference(session, body.get("reference", "")) == 0


def test_create_accepts_the_edges(client, admin, world, new_body):
    """The limits themselves are allowed: a line in the starting year, zero amounts, fse = budget."""
    body = new_body(
        reference="R" * 64,
        start_on="2018-12-31",
        end_on="2019-01-01",
        years=[
            {"year": 2018, "places": 0, "budget": 0, "fse_amount": 0, "months_per_place": 1, "hours_threshold": 0},
            {"year": 2019, "budget": 999999999999.99, "fse_amount": 999999999999.99, "targets": {"entries": 0}},
        ],
    )

    response = client.post(URL, json=body, headers=admin)

    assert response.status_code == 201, response.text
    assert [line["year"] for line in response.json()["years"]] == [2018, 2019]


def test_duplicate_reference_is_a_conflict(client, admin, session, new_body):
    body = new_body()
    assert client.post(URL, json=body, headers=admin).status_code == 201
    before = stored_counts(session)

    assert_problem(client.post(URL, json={**new_body(), "reference": body["reference"]}, headers=admin), 409)

    assert stored_counts(session) == before
    assert conventions_with_reference(session, body["reference"]) == 1


@pytest.fixture
def stored(client, admin, session, world):
    """A stored convention from 2018-04-01 to 2020-12-31 with a 2018 and a 2019 line, its read
    model and ETag, and a way to check that nothing changed since."""
    convention = factories.convention(
        session,
        operator_id=world.operator.id,
        action_id=world.action.id,
        site_ids=[world.sites[0].id],
        start_on=date(2018, 4, 1),
        end_on=date(2020, 12, 31),
        years={2018: {"places": 5, "budget": 100}, 2019: {"places": 5, "budget": 100}},
    )
    session.commit()
    first = client.get(f"{URL}/{convention.id}", headers=admin)
    counts = stored_counts(session)

    def unchanged() -> bool:
        again = client.get(f"{URL}/{convention.id}", headers=admin)
        return (
            again.json() == first.json()
            and again.headers["ETag"] == first.headers["ETag"]
            and stored_counts(session) == counts
        )

    return convention, first.headers["ETag"], unchanged


PATCH_CASES = [
    ("unknown field", lambda w: {"colour": "red"}, ["body", "colour"]),
    ("action is not editable", lambda w: {"action": "other"}, ["body", "action"]),
    ("years are edited by PUT", lambda w: {"years": []}, ["body", "years"]),
    ("null reference", lambda w: {"reference": None}, ["body", "reference"]),
    ("empty reference", lambda w: {"reference": ""}, ["body", "reference"]),
    ("reference over 64 chars", lambda w: {"reference": "R" * 65}, ["body", "reference"]),
    ("null status", lambda w: {"status": None}, ["body", "status"]),
    ("unknown status", lambda w: {"status": "paused"}, ["body", "status"]),
    ("null end_on", lambda w: {"end_on": None}, ["body", "end_on"]),
    ("end before stored start", lambda w: {"end_on": "2018-03-31"}, ["body", "end_on"]),
    ("start after stored end", lambda w: {"start_on": "2021-01-01"}, ["body", "end_on"]),
    ("dates leave out a line (start)", lambda w: {"start_on": "2019-01-01"}, ["body", "start_on"]),
    ("dates leave out a line (end)", lambda w: {"end_on": "2018-12-31"}, ["body", "end_on"]),
    ("unknown site", lambda w: {"site_ids": [2147483647]}, ["body", "site_ids", 0]),
    ("site of another operator", lambda w: {"site_ids": [w.sites[1].id, w.other_site.id]}, ["body", "site_ids", 1]),
    ("null site_ids", lambda w: {"site_ids": None}, ["body", "site_ids"]),
]


@pytest.mark.parametrize(("change", "loc"), [case[1:] for case in PATCH_CASES], ids=[case[0] for case in PATCH_CASES])
def test_patch_refuses_bad_input(client, admin, world, stored, change, loc):
    convention, _etag, unchanged = stored

    assert_problem(client.patch(f"{URL}/{convention.id}", json=change(world), headers=admin), 422, loc)

    assert unchanged()


@pytest.fixture
def taken_reference(session) -> str:
    other = factories.convention(session)
    session.commit()
    return other.reference


def test_patch_to_a_taken_reference_is_a_conflict(client, admin, taken_reference, stored):
    convention, _etag, unchanged = stored

    assert_problem(client.patch(f"{URL}/{convention.id}", json={"reference": taken_reference}, headers=admin), 409)

    assert unchanged()


def test_patch_keeping_its_own_reference_is_fine(client, admin, stored):
    convention, _etag, _unchanged = stored

    response = client.patch(f"{URL}/{convention.id}", json={"reference": convention.reference}, headers=admin)

    assert response.status_code == 200, response.text


def test_stale_if_match_is_412(client, admin, stored):
    convention, etag, unchanged = stored
    stale = {**admin, "If-Match": '"not-the-current-tag"'}

    assert_problem(client.patch(f"{URL}/{convention.id}", json={"status": "ended"}, headers=stale), 412)
    assert_problem(client.put(f"{URL}/{convention.id}/years/2020", json={"places": 1}, headers=stale), 412)
    assert unchanged()

    current = {**admin, "If-Match": etag}
    assert client.patch(f"{URL}/{convention.id}", json={"status": "ended"}, headers=current).status_code == 200
    # The tag that was current a moment ago is now stale.
    assert_problem(client.put(f"{URL}/{convention.id}/years/2020", json={"places": 1}, headers=current), 412)


PUT_CASES = [
    ("unknown field", 2019, {"seats": 3}, ["body", "seats"]),
    ("body year differs from the path", 2019, {"year": 2020, "places": 1}, ["body", "year"]),
    ("year before the dates", 1990, {"places": 1}, ["path", "year"]),
    ("year after the dates", 2021, {"places": 1}, ["path", "year"]),
    ("year out of range", 0, {"places": 1}, ["path", "year"]),
    ("huge year", 10**15, {"places": 1}, ["path", "year"]),
    ("negative places", 2019, {"places": -1}, ["body", "places"]),
    ("negative budget", 2019, {"budget": -5}, ["body", "budget"]),
    ("fse over budget", 2019, {"budget": 100, "fse_amount": 101}, ["body", "fse_amount"]),
    ("fse without budget", 2019, {"fse_amount": 1}, ["body", "fse_amount"]),
    ("months_per_place 13", 2019, {"months_per_place": 13}, ["body", "months_per_place"]),
    ("negative hours threshold", 2019, {"hours_threshold": -1}, ["body", "hours_threshold"]),
    ("unknown indicator target", 2019, {"targets": {"nope": 1}}, ["body", "targets", "nope", "[key]"]),
    ("infinite target", 2019, '{"targets": {"entries": Infinity}}', ["body", "targets", "entries"]),
]


@pytest.mark.parametrize(("year", "body", "loc"), [case[1:] for case in PUT_CASES], ids=[case[0] for case in PUT_CASES])
def test_put_year_refuses_bad_input(client, admin, stored, year, body, loc):
    convention, _etag, unchanged = stored

    url = f"{URL}/{convention.id}/years/{year}"
    if isinstance(body, str):  # JSON that a strict encoder would not write (Infinity)
        response = client.put(url, content=body, headers={**admin, "Content-Type": "application/json"})
    else:
        response = client.put(url, json=body, headers=admin)

    assert_problem(response, 422, loc)

    assert unchanged()


def test_put_year_of_the_partial_first_year_is_allowed(client, admin, stored):
    """The convention starts on 1 April 2018: its 2018 line is legitimate."""
    convention, _etag, _unchanged = stored

    response = client.put(f"{URL}/{convention.id}/years/2018", json={"places": 3}, headers=admin)

    assert response.status_code == 200, response.text
    first_line = response.json()["years"][0]
    assert (first_line["year"], first_line["places"]) == (2018, 3)
