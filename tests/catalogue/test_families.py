"""Families over HTTP: shape, rules, ETag, deletion, audit."""

import pytest

from tests import factories
from tests.catalogue.helpers import API, assert_problem, codes_in, next_code, next_number, stored


def create(client, admin, **fields):
    body = {"code": next_code("fam"), "name": "Famille"} | fields
    response = client.post(f"{API}/families", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_then_read_a_family(client, admin):
    code = next_code("fam")
    body = {"code": code, "name": "La levée des freins bis", "position": 7, "description": "Mobilité, santé"}
    created = client.post(f"{API}/families", json=body, headers=admin)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in body} == body

    read = client.get(f"{API}/families/{code}")
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read.headers["ETag"]


def test_list_is_ordered_by_position_then_code(client, admin):
    made = [
        create(client, admin, code=f"{next_code('fam')}-b", position=9001)["code"],
        create(client, admin, code=f"{next_code('fam')}-a", position=9000)["code"],
        create(client, admin, code=f"{next_code('fam')}-c", position=9000)["code"],
    ]
    page = client.get(f"{API}/families", params={"size": 500}).json()
    expected = sorted(made, key=lambda code: (9001 if code.endswith("-b") else 9000, code))
    assert codes_in(page, made) == expected
    assert page["total"] >= 3 and page["page"] == 1 and page["size"] == 500


def test_list_pages_add_up_to_the_total(client, admin):
    for _ in range(3):
        create(client, admin)
    first = client.get(f"{API}/families", params={"size": 2}).json()
    everything = client.get(f"{API}/families", params={"size": 500}).json()
    assert first["total"] == everything["total"] == len(everything["items"])
    assert [f["code"] for f in first["items"]] == [f["code"] for f in everything["items"][:2]]


def test_every_page_tells_the_same_total_whatever_its_size(client, admin):
    # A short last page gives the total without a count; full and empty pages ask the database.
    for _ in range(3):
        create(client, admin)
    everything = client.get(f"{API}/families", params={"size": 500}).json()
    total = everything["total"]
    assert total == len(everything["items"]) >= 3
    for size in (1, 2, total - 1, total, total + 1):
        pages = [client.get(f"{API}/families", params={"size": size, "page": n}).json() for n in range(1, total + 3)]
        assert {page["total"] for page in pages} == {total}, size
        assert [item for page in pages for item in page["items"]] == everything["items"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "Sans code"}, ["body", "code"]),
        ({"code": "sans-nom"}, ["body", "name"]),
        ({"code": "Pas Un Slug", "name": "x"}, ["body", "code"]),
        ({"code": "-debut", "name": "x"}, ["body", "code"]),
        ({"code": "a" * 65, "name": "x"}, ["body", "code"]),
        ({"code": "ok-code", "name": ""}, ["body", "name"]),
        ({"code": "ok-code", "name": "x" * 201}, ["body", "name"]),
        ({"code": "ok-code", "name": "x", "description": "x" * 5001}, ["body", "description"]),
        ({"code": "ok-code", "name": "x", "position": -1}, ["body", "position"]),
        ({"code": "ok-code", "name": "x", "position": 10**12}, ["body", "position"]),
        ({"code": "ok-code", "name": "nul \x00 inside"}, ["body", "name"]),
        ({"code": "ok-code", "name": "x", "colour": "blue"}, ["body", "colour"]),
    ],
)
def test_invalid_family_is_refused_and_not_stored(client, admin, session, body, loc):
    before = stored(session)
    assert_problem(client.post(f"{API}/families", json=body, headers=admin), 422, loc)
    assert stored(session) == before


def test_duplicate_code_is_a_conflict(client, admin, session):
    family = create(client, admin)
    before = stored(session)
    response = client.post(f"{API}/families", json={"code": family["code"], "name": "Autre"}, headers=admin)
    assert_problem(response, 409)
    assert stored(session) == before
    assert client.get(f"{API}/families/{family['code']}").json()["name"] == family["name"]


def test_patch_changes_only_the_given_fields(client, admin):
    family = create(client, admin, description="Avant", position=3)
    response = client.patch(f"{API}/families/{family['code']}", json={"name": "Nouveau nom"}, headers=admin)
    assert response.status_code == 200
    assert response.json() | {"updated_at": None} == family | {"name": "Nouveau nom", "updated_at": None}
    assert response.headers["ETag"] == client.get(f"{API}/families/{family['code']}").headers["ETag"]


def test_patch_may_clear_an_optional_field(client, admin):
    family = create(client, admin, description="Avant")
    response = client.patch(f"{API}/families/{family['code']}", json={"description": None}, headers=admin)
    assert response.status_code == 200
    assert response.json()["description"] is None


def test_patch_may_change_the_code(client, admin):
    family = create(client, admin)
    action = client.post(
        f"{API}/actions",
        json={"code": next_code("act"), "number": next_number(), "family": family["code"], "name": "A"},
        headers=admin,
    ).json()
    new_code = next_code("renamed")
    response = client.patch(f"{API}/families/{family['code']}", json={"code": new_code}, headers=admin)
    assert response.status_code == 200
    assert response.json()["code"] == new_code
    assert client.get(f"{API}/families/{new_code}").status_code == 200
    assert_problem(client.get(f"{API}/families/{family['code']}"), 404)
    assert client.get(f"{API}/actions/{action['code']}").json()["family"] == new_code


@pytest.mark.parametrize(
    ("patch", "status", "loc"),
    [
        ({"name": None}, 422, ["body", "name"]),
        ({"code": None}, 422, ["body", "code"]),
        ({"position": None}, 422, ["body", "position"]),
        ({"code": "Not A Slug"}, 422, ["body", "code"]),
        ({"name": "x" * 201}, 422, ["body", "name"]),
        ({"unknown": 1}, 422, ["body", "unknown"]),
    ],
)
def test_invalid_patch_is_refused_and_changes_nothing(client, admin, session, patch, status, loc):
    family = create(client, admin)
    before = stored(session)
    assert_problem(client.patch(f"{API}/families/{family['code']}", json=patch, headers=admin), status, loc)
    assert stored(session) == before
    assert client.get(f"{API}/families/{family['code']}").json() == family


def test_patch_to_a_taken_code_is_a_conflict(client, admin, session):
    family, other = create(client, admin), create(client, admin)
    before = stored(session)
    assert_problem(client.patch(f"{API}/families/{family['code']}", json={"code": other["code"]}, headers=admin), 409)
    assert stored(session) == before
    assert client.get(f"{API}/families/{family['code']}").json() == family


def test_stale_if_match_is_refused_and_the_current_one_accepted(client, admin, session):
    family = create(client, admin)
    etag = client.get(f"{API}/families/{family['code']}").headers["ETag"]
    assert client.patch(f"{API}/families/{family['code']}", json={"name": "Premier"}, headers=admin).status_code == 200
    before = stored(session)

    stale = client.patch(
        f"{API}/families/{family['code']}", json={"name": "Second"}, headers=admin | {"If-Match": etag}
    )
    assert_problem(stale, 412)
    assert stored(session) == before
    assert client.get(f"{API}/families/{family['code']}").json()["name"] == "Premier"

    current = client.get(f"{API}/families/{family['code']}").headers["ETag"]
    fresh = client.patch(
        f"{API}/families/{family['code']}", json={"name": "Second"}, headers=admin | {"If-Match": current}
    )
    assert fresh.status_code == 200
    assert fresh.json()["name"] == "Second"
    assert fresh.headers["ETag"] != current


def test_etag_is_the_same_when_read_back_from_the_database(client, admin, session):
    # SQLite returns timestamps without their zone: the tag must not depend on where it came from.
    family = create(client, admin)
    patched = client.patch(f"{API}/families/{family['code']}", json={"name": "Relu"}, headers=admin)
    session.expire_all()
    read = client.get(f"{API}/families/{family['code']}")
    assert read.json() == patched.json()
    assert read.headers["ETag"] == patched.headers["ETag"]


def test_delete_an_unused_family(client, admin, session):
    family = create(client, admin)
    response = client.delete(f"{API}/families/{family['code']}", headers=admin)
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(client.get(f"{API}/families/{family['code']}"), 404)


def test_delete_a_family_with_actions_is_a_conflict(client, admin, session):
    family = factories.family(session, code=next_code("fam"))
    factories.action(session, family_id=family.id, number=next_number())
    session.commit()  # the refused request rolls back what is not committed
    before = stored(session)
    assert_problem(client.delete(f"{API}/families/{family.code}", headers=admin), 409)
    assert stored(session) == before
    assert client.get(f"{API}/families/{family.code}").status_code == 200


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_missing_family_is_404(client, admin, session, method):
    before = stored(session)
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}
    assert_problem(client.request(method, f"{API}/families/t-no-such-family", headers=admin, **kwargs), 404)
    assert stored(session) == before


def test_text_that_no_database_can_store_is_422(client, admin, session):
    # A lone surrogate is valid JSON but not UTF-8: refused, not a 500 at commit.
    before = stored(session)
    body = '{"code": "t-surrogate", "name": "bad \\ud800 text"}'
    response = client.post(f"{API}/families", content=body, headers=admin | {"Content-Type": "application/json"})
    assert_problem(response, 422, ["body", "name"])
    assert stored(session) == before
