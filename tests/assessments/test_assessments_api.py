"""Assessments of actions (SPEC C6): any key reads, admins write whole lists of points, If-Match,
bounds on input (a 422 naming the point, nothing stored), the audit log and the change feed."""

import pytest

from app.auth.models import Role
from tests import factories
from tests.catalogue.helpers import assert_problem

API = "/api/v1"
POINTS = ["Démarche concertée continue ;", "Résultats quantitatifs en deçà des attendus"]


@pytest.fixture
def action_code(session) -> str:
    family = factories.family(session)
    action = factories.action(session, family_id=family.id)
    session.commit()
    return action.code


def url(code: str, year: int | None = None) -> str:
    return f"{API}/actions/{code}/assessments" + (f"/{year}" if year is not None else "")


def put(client, headers, code, year, points, **extra):
    return client.put(url(code, year), json={"points": points}, headers=headers | extra)


def test_an_admin_writes_an_assessment_and_every_key_reads_it_back(client, admin, make_key, session, action_code):
    created = put(client, admin, action_code, 2021, POINTS)
    assert created.status_code == 201, created.text
    body = created.json()
    assert {name: body[name] for name in ("action", "year", "points")} == {
        "action": action_code,
        "year": 2021,
        "points": POINTS,
    }
    assert body["updated_at"]
    operator_id = factories.operator(session).id
    session.commit()
    for headers in (admin, make_key(Role.reader), make_key(Role.portal), make_key(Role.operator, operator_id)):
        read = client.get(url(action_code, 2021), headers=headers)
        assert read.status_code == 200, read.text
        assert read.json() == body
        assert read.headers["ETag"] == created.headers["ETag"]

    replaced = put(client, admin, action_code, 2021, ["Un seul point."])
    assert replaced.status_code == 200, replaced.text
    assert client.get(url(action_code, 2021), headers=admin).json()["points"] == ["Un seul point."]


def test_the_list_is_newest_year_first_in_the_list_envelope(client, admin, reader, action_code):
    for year in (2019, 2021, 2020):
        assert put(client, admin, action_code, year, [f"Année {year}"]).status_code == 201
    page = client.get(url(action_code), headers=reader).json()
    assert [item["year"] for item in page["items"]] == [2021, 2020, 2019]
    assert (page["total"], page["page"], page["size"]) == (3, 1, 50)
    assert page["items"][0]["points"] == ["Année 2021"]
    second = client.get(url(action_code), params={"size": 2, "page": 2}, headers=reader).json()
    assert [item["year"] for item in second["items"]] == [2019] and second["total"] == 3


def test_anonymous_is_401_and_only_admins_write(client, admin, make_key, session, action_code):
    assert put(client, admin, action_code, 2020, POINTS).status_code == 201
    assert_problem(client.get(url(action_code, 2020)), 401)
    assert_problem(client.get(url(action_code)), 401)
    operator_id = factories.operator(session).id
    session.commit()
    for headers in (make_key(Role.reader), make_key(Role.portal), make_key(Role.operator, operator_id)):
        assert_problem(put(client, headers, action_code, 2020, ["Autre chose"]), 403)
        assert_problem(put(client, headers, action_code, 2022, ["Autre chose"]), 403)
        assert_problem(client.delete(url(action_code, 2020), headers=headers), 403)
    assert_problem(put(client, {}, action_code, 2020, ["Autre chose"]), 401)
    assert client.get(url(action_code, 2020), headers=admin).json()["points"] == POINTS
    assert_problem(client.get(url(action_code, 2022), headers=admin), 404)


def test_unknown_action_or_year_is_a_404(client, admin, reader, action_code):
    assert_problem(client.get(url("no-such-action", 2020), headers=reader), 404)
    assert_problem(client.get(url("no-such-action"), headers=reader), 404)
    assert_problem(put(client, admin, "no-such-action", 2020, POINTS), 404)
    assert_problem(client.get(url(action_code, 2020), headers=reader), 404)
    assert_problem(client.delete(url(action_code, 2020), headers=admin), 404)
    assert_problem(client.get(url(action_code, 1999), headers=reader), 422, ["path", "year"])


BAD_POINTS = {
    "no point": ([], ["body", "points"]),
    "31 points": ([f"Point {i}" for i in range(31)], ["body", "points"]),
    "an empty point": (["Bien", ""], ["body", "points", 1]),
    "only spaces": (["   "], ["body", "points", 0]),
    "1,001 characters": (["Bien", "x" * 1001], ["body", "points", 1]),
    "a dash marker": (["Bien", "- Démarche concertée"], ["body", "points", 1]),
    "a star marker": (["* Démarche"], ["body", "points", 0]),
    "a bullet": (["• Démarche"], ["body", "points", 0]),
    "a plus marker": (["+ Démarche"], ["body", "points", 0]),
    "a numbered marker": (["Bien", "Bien", "1. Démarche"], ["body", "points", 2]),
    "a marker after spaces": (["  - Démarche"], ["body", "points", 0]),
    "a line break": (["Démarche\nconcertée"], ["body", "points", 0]),
    "a tab": (["Démarche\tconcertée"], ["body", "points", 0]),
    "a NUL": (["Démarche\x00"], ["body", "points", 0]),
    "not a string": ([12], ["body", "points", 0]),
}


@pytest.mark.parametrize("case", BAD_POINTS)
def test_bad_points_are_a_422_naming_the_point_and_store_nothing(client, admin, action_code, case):
    points, loc = BAD_POINTS[case]
    assert_problem(put(client, admin, action_code, 2020, points), 422, loc)
    assert_problem(client.get(url(action_code, 2020), headers=admin), 404)
    assert put(client, admin, action_code, 2021, POINTS).status_code == 201
    assert_problem(put(client, admin, action_code, 2021, points), 422, loc)
    assert client.get(url(action_code, 2021), headers=admin).json()["points"] == POINTS


def test_unknown_fields_and_a_missing_body_are_422(client, admin, action_code):
    response = client.put(url(action_code, 2020), json={"points": POINTS, "year": 2020}, headers=admin)
    assert_problem(response, 422)
    assert_problem(client.put(url(action_code, 2020), json={}, headers=admin), 422, ["body", "points"])
    assert_problem(client.get(url(action_code, 2020), headers=admin), 404)


def test_text_that_is_not_a_marker_is_kept_as_written(client, admin, action_code):
    points = [
        "-5 % de sorties",
        "+12 places en 2020",
        "=ce qui était prévu",
        "@Départ",
        "2020 : 1,5 fois plus",
        "«Bien»",
    ]
    assert put(client, admin, action_code, 2020, [f"  {point} " for point in points]).status_code == 201
    assert client.get(url(action_code, 2020), headers=admin).json()["points"] == points  # trimmed, as all input


def test_if_match_refuses_a_stale_version(client, admin, action_code):
    first = put(client, admin, action_code, 2020, POINTS)
    etag = first.headers["ETag"]
    second = put(client, admin, action_code, 2020, ["Deuxième version"], **{"If-Match": etag})
    assert second.status_code == 200, second.text
    assert second.headers["ETag"] != etag
    assert_problem(put(client, admin, action_code, 2020, ["Troisième version"], **{"If-Match": etag}), 412)
    assert_problem(client.delete(url(action_code, 2020), headers=admin | {"If-Match": etag}), 412)
    assert client.get(url(action_code, 2020), headers=admin).json()["points"] == ["Deuxième version"]
    # If-Match names a version: for a year without an assessment there is none.
    assert_problem(put(client, admin, action_code, 2019, POINTS, **{"If-Match": etag}), 412)
    assert_problem(client.get(url(action_code, 2019), headers=admin), 404)
    deleted = client.delete(url(action_code, 2020), headers=admin | {"If-Match": second.headers["ETag"]})
    assert deleted.status_code == 204


def test_delete_removes_it(client, admin, action_code):
    assert put(client, admin, action_code, 2020, POINTS).status_code == 201
    assert client.delete(url(action_code, 2020), headers=admin).status_code == 204
    assert_problem(client.get(url(action_code, 2020), headers=admin), 404)
    assert client.get(url(action_code), headers=admin).json()["total"] == 0


def test_a_consolidated_year_keeps_taking_its_assessment(client, admin, action_code):
    """The qualitative bilan is written once the figures are final: consolidation does not freeze it."""
    response = client.post(f"{API}/periods/2018/consolidate", headers=admin)
    assert response.status_code == 200, response.text
    assert put(client, admin, action_code, 2018, POINTS).status_code == 201
    assert put(client, admin, action_code, 2018, ["Revu après consolidation"]).status_code == 200
    assert client.get(url(action_code, 2018), headers=admin).json()["points"] == ["Revu après consolidation"]


def test_an_action_with_assessments_cannot_be_deleted_until_they_are(client, admin, action_code):
    assert put(client, admin, action_code, 2020, POINTS).status_code == 201
    assert_problem(client.delete(f"{API}/actions/{action_code}", headers=admin), 409)
    assert client.get(url(action_code, 2020), headers=admin).json()["points"] == POINTS
    assert client.delete(url(action_code, 2020), headers=admin).status_code == 204
    assert client.delete(f"{API}/actions/{action_code}", headers=admin).status_code == 204


def test_every_write_is_audited_without_its_text(client, admin, action_code):
    assert put(client, admin, action_code, 2020, POINTS).status_code == 201
    assert put(client, admin, action_code, 2020, ["Autre"]).status_code == 200
    assert put(client, admin, action_code, 2020, ["Autre"]).status_code == 200  # unchanged: no write
    assert client.delete(url(action_code, 2020), headers=admin).status_code == 204
    response = client.get(
        f"{API}/audit-events", params={"entity": "assessment", "entity_id": f"{action_code}/2020"}, headers=admin
    )
    assert response.status_code == 200, response.text
    events = response.json()["items"]
    assert [(event["action"], event["fields"]) for event in events] == [
        ("delete", []),
        ("update", ["points"]),
        ("create", ["points"]),
    ]
    assert "Autre" not in response.text and POINTS[0] not in response.text


def _feed(client, headers, after=0) -> tuple[list[dict], int]:
    items = []
    while True:
        page = client.get(f"{API}/changes", params={"after": after, "limit": 1000}, headers=headers).json()
        items += page["items"]
        if not page["items"]:
            return items, page["next"]
        after = page["next"]


def test_the_feed_shows_a_write_as_the_get_and_a_deletion_as_a_tombstone(client, admin, reader, action_code):
    _, start = _feed(client, reader)
    written = put(client, admin, action_code, 2020, POINTS)
    assert written.status_code == 201
    items, after_put = _feed(client, reader, after=start)
    [item] = [item for item in items if item["kind"] == "assessment"]
    assert (item["id"], item["state"]) == (f"{action_code}/2020", "updated")
    assert item["data"] == written.json()
    assert [item for item in _feed(client, {}, after=start)[0] if item["kind"] == "assessment"] == []  # not public

    assert client.delete(url(action_code, 2020), headers=admin).status_code == 204
    items, _ = _feed(client, reader, after=after_put)
    [item] = [item for item in items if item["kind"] == "assessment"]
    assert (item["id"], item["state"], item["data"]) == (f"{action_code}/2020", "deleted", None)


def test_a_64_character_action_code_fits_the_feed(client, admin, reader, session):
    family = factories.family(session)
    action = factories.action(session, family_id=family.id, code="a" * 64)
    session.commit()
    _, start = _feed(client, reader)
    assert put(client, admin, action.code, 2020, POINTS).status_code == 201
    items, _ = _feed(client, reader, after=start)
    assert [item["id"] for item in items if item["kind"] == "assessment"] == [f"{'a' * 64}/2020"]


def test_renaming_the_action_moves_its_assessments_in_the_feed(client, admin, reader, action_code):
    assert put(client, admin, action_code, 2020, POINTS).status_code == 201
    _, start = _feed(client, reader)
    renamed = client.patch(f"{API}/actions/{action_code}", json={"code": f"{action_code}-b"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    items, _ = _feed(client, reader, after=start)
    moved = {item["id"]: item for item in items if item["kind"] == "assessment"}
    assert set(moved) == {f"{action_code}/2020", f"{action_code}-b/2020"}
    assert (moved[f"{action_code}/2020"]["state"], moved[f"{action_code}/2020"]["data"]) == ("deleted", None)
    assert moved[f"{action_code}-b/2020"]["data"] == client.get(url(f"{action_code}-b", 2020), headers=reader).json()
