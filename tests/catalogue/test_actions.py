"""Actions over HTTP: shape, rules on create and on merged updates, filters, ETag, deletion."""

import pytest
from sqlalchemy import event

from app.catalogue.models import Territory
from tests import factories
from tests.catalogue.helpers import API, assert_problem, codes_in, create_action, next_code, next_number, stored


def test_create_then_read_an_action(client, admin, family):
    body = {
        "code": next_code("depart-parcours"),
        "number": next_number(),
        "family": family,
        "name": "Depart'Parcours",
        "description": "Construire avec la personne un parcours d'insertion",
        "target_public": "Bénéficiaires du RSA orientés social",
        "min_duration_months": 1,
        "max_duration_months": 1,
        "format": "individual",
        "indicators": ["places_funded", "budget", "persons_present", "occupancy_rate", "completion_rate"],
    }
    created = client.post(f"{API}/actions", json=body, headers=admin)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in body} == body

    read = client.get(f"{API}/actions/{body['code']}")
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read.headers["ETag"]


def test_indicators_keep_their_order(client, admin, family):
    order = ["exits", "budget", "entries"]
    action = create_action(client, admin, family, indicators=order)
    assert client.get(f"{API}/actions/{action['code']}").json()["indicators"] == order


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"code": None}, ["body", "code"]),
        ({"number": None}, ["body", "number"]),
        ({"family": None}, ["body", "family"]),
        ({"name": None}, ["body", "name"]),
        ({"code": "Pas un slug"}, ["body", "code"]),
        ({"number": 0}, ["body", "number"]),
        ({"number": -3}, ["body", "number"]),
        ({"number": 2**40}, ["body", "number"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"description": "x" * 5001}, ["body", "description"]),
        ({"target_public": "x" * 2001}, ["body", "target_public"]),
        ({"min_duration_months": -1}, ["body", "min_duration_months"]),
        ({"max_duration_months": -1}, ["body", "max_duration_months"]),
        ({"format": "online"}, ["body", "format"]),
        ({"indicators": ["budget", "not_an_indicator"]}, ["body", "indicators"]),
        ({"indicators": ["budget", "exits", "budget"]}, ["body", "indicators"]),
        ({"indicators": "budget"}, ["body", "indicators"]),
        ({"family_id": 1}, ["body", "family_id"]),
    ],
)
def test_invalid_action_is_refused_and_not_stored(client, admin, session, family, fields, loc):
    body = {"code": next_code("act"), "number": next_number(), "family": family, "name": "Action"} | fields
    body = {k: v for k, v in body.items() if v is not None}
    before = stored(session)
    assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 422, loc)
    assert stored(session) == before


def test_unknown_family_is_refused_at_family(client, admin, session):
    before = stored(session)
    body = {"code": next_code("act"), "number": next_number(), "family": "t-no-such-family", "name": "A"}
    assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 422, ["body", "family"])
    assert stored(session) == before


def test_min_duration_above_max_is_refused(client, admin, session, family):
    before = stored(session)
    body = {
        "code": next_code("act"),
        "number": next_number(),
        "family": family,
        "name": "A",
        "min_duration_months": 12,
        "max_duration_months": 6,
    }
    assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 422, ["body", "max_duration_months"])
    assert stored(session) == before


@pytest.mark.parametrize("duplicated", ["code", "number"])
def test_duplicate_code_or_number_is_a_conflict(client, admin, session, family, duplicated):
    existing = create_action(client, admin, family)
    before = stored(session)
    body = {"code": next_code("act"), "number": next_number(), "family": family, "name": "A"}
    body[duplicated] = existing[duplicated]
    assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 409)
    assert stored(session) == before


def test_patch_changes_family_by_code(client, admin, session, family):
    other = factories.family(session, code=next_code("fam"))
    session.commit()
    action = create_action(client, admin, family)
    response = client.patch(f"{API}/actions/{action['code']}", json={"family": other.code}, headers=admin)
    assert response.status_code == 200
    assert response.json()["family"] == other.code
    assert client.get(f"{API}/actions/{action['code']}").json()["family"] == other.code


def test_patch_may_change_the_code_and_clear_optional_fields(client, admin, family):
    action = create_action(client, admin, family, format="collective", min_duration_months=2)
    new_code = next_code("act")
    response = client.patch(
        f"{API}/actions/{action['code']}",
        json={"code": new_code, "format": None, "min_duration_months": None},
        headers=admin,
    )
    assert response.status_code == 200
    assert (response.json()["code"], response.json()["format"], response.json()["min_duration_months"]) == (
        new_code,
        None,
        None,
    )
    assert client.get(f"{API}/actions/{new_code}").status_code == 200
    assert_problem(client.get(f"{API}/actions/{action['code']}"), 404)


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        # The merged result is checked: each side alone is fine.
        ({"max_duration_months": 3}, ["body", "max_duration_months"]),
        ({"min_duration_months": 13}, ["body", "max_duration_months"]),
        ({"family": "t-no-such-family"}, ["body", "family"]),
        ({"name": None}, ["body", "name"]),
        ({"number": None}, ["body", "number"]),
        ({"indicators": None}, ["body", "indicators"]),
        ({"indicators": ["budget", "budget"]}, ["body", "indicators"]),
        ({"indicators": ["nope"]}, ["body", "indicators"]),
        ({"number": 0}, ["body", "number"]),
        ({"nombre": 3}, ["body", "nombre"]),
    ],
)
def test_invalid_patch_is_refused_and_changes_nothing(client, admin, session, family, patch, loc):
    action = create_action(client, admin, family, min_duration_months=6, max_duration_months=12, indicators=["exits"])
    before = stored(session)
    assert_problem(client.patch(f"{API}/actions/{action['code']}", json=patch, headers=admin), 422, loc)
    assert stored(session) == before
    assert client.get(f"{API}/actions/{action['code']}").json() == action


@pytest.mark.parametrize("duplicated", ["code", "number"])
def test_patch_to_a_taken_code_or_number_is_a_conflict(client, admin, session, family, duplicated):
    action, other = create_action(client, admin, family), create_action(client, admin, family)
    before = stored(session)
    response = client.patch(f"{API}/actions/{action['code']}", json={duplicated: other[duplicated]}, headers=admin)
    assert_problem(response, 409)
    assert stored(session) == before
    assert client.get(f"{API}/actions/{action['code']}").json() == action


def test_stale_if_match_is_refused_and_the_current_one_accepted(client, admin, session, family):
    action = create_action(client, admin, family)
    url = f"{API}/actions/{action['code']}"
    etag = client.get(url).headers["ETag"]
    assert client.patch(url, json={"name": "Premier"}, headers=admin).status_code == 200
    before = stored(session)

    assert_problem(client.patch(url, json={"name": "Second"}, headers=admin | {"If-Match": etag}), 412)
    assert stored(session) == before
    assert client.get(url).json()["name"] == "Premier"

    current = client.get(url).headers["ETag"]
    fresh = client.patch(url, json={"name": "Second"}, headers=admin | {"If-Match": current})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == client.get(url).headers["ETag"] != current


def test_delete_an_unused_action(client, admin, family):
    action = create_action(client, admin, family)
    assert client.delete(f"{API}/actions/{action['code']}", headers=admin).status_code == 204
    assert_problem(client.get(f"{API}/actions/{action['code']}"), 404)


def test_delete_an_action_with_a_convention_is_a_conflict(client, admin, session):
    action = factories.action(session, code=next_code("act"), number=next_number())
    factories.convention(session, action_id=action.id)
    session.commit()
    before = stored(session)
    assert_problem(client.delete(f"{API}/actions/{action.code}", headers=admin), 409)
    assert stored(session) == before
    assert client.get(f"{API}/actions/{action.code}").status_code == 200


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_missing_action_is_404(client, admin, session, method):
    before = stored(session)
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}
    assert_problem(client.request(method, f"{API}/actions/t-no-such-action", headers=admin, **kwargs), 404)
    assert stored(session) == before


# --- list and filters -------------------------------------------------------------------


def test_list_is_ordered_by_number(client, admin, family):
    numbers = [next_number() for _ in range(3)]
    made = [create_action(client, admin, family, number=number)["code"] for number in reversed(numbers)]
    page = client.get(f"{API}/actions", params={"size": 500}).json()
    assert codes_in(page, made) == list(reversed(made))
    assert [item["number"] for item in page["items"]] == sorted(item["number"] for item in page["items"])


@pytest.fixture
def catalogue(session):
    """Two families, four actions; an operator with conventions on two of them, at an urban and a rural site."""
    fam_a, fam_b = (factories.family(session, code=next_code("fam")) for _ in range(2))
    actions = {
        name: factories.action(
            session, family_id=fam.id, code=next_code(name), number=next_number(), name=label, description=description
        )
        for name, fam, label, description in [
            ("urban", fam_a, "Atelier zorglub en ville", None),
            ("rural", fam_a, "Garage solidaire", "Location ZORGLUB de véhicules"),
            ("both", fam_b, "Chantier d'insertion", "100% zorglub"),
            ("none", fam_b, "Permis de conduire", None),
        ]
    }
    operator = factories.operator(session)
    urban_site = factories.site(session, operator_id=operator.id, territory=Territory.urban)
    rural_site = factories.site(session, operator_id=operator.id, territory=Territory.rural)
    unsited = factories.operator(session)
    factories.convention(session, action_id=actions["urban"].id, operator_id=operator.id, site_ids=[urban_site.id])
    factories.convention(session, action_id=actions["rural"].id, operator_id=operator.id, site_ids=[rural_site.id])
    factories.convention(
        session, action_id=actions["both"].id, operator_id=operator.id, site_ids=[urban_site.id, rural_site.id]
    )
    factories.convention(session, action_id=actions["none"].id, operator_id=unsited.id)
    session.commit()
    return {
        "families": (fam_a.code, fam_b.code),
        "actions": {k: v.code for k, v in actions.items()},
        "operator": operator.id,
        "unsited": unsited.id,
    }


def listed(client, **params):
    response = client.get(f"{API}/actions", params={"size": 500} | params)
    assert response.status_code == 200, response.text
    return response.json()


def test_filter_by_family(client, catalogue):
    page = listed(client, family=catalogue["families"][1])
    assert [item["code"] for item in page["items"]] == [catalogue["actions"]["both"], catalogue["actions"]["none"]]
    assert page["total"] == 2
    assert listed(client, family="t-no-such-family")["total"] == 0


def test_filter_by_operator(client, catalogue):
    codes = catalogue["actions"]
    page = listed(client, operator=catalogue["operator"])
    assert [item["code"] for item in page["items"]] == [codes["urban"], codes["rural"], codes["both"]]
    assert page["total"] == 3
    assert [item["code"] for item in listed(client, operator=catalogue["unsited"])["items"]] == [codes["none"]]


@pytest.mark.parametrize(("territory", "expected"), [("urban", ["urban", "both"]), ("rural", ["rural", "both"])])
def test_filter_by_territory(client, catalogue, territory, expected):
    codes = catalogue["actions"]
    page = listed(client, territory=territory)
    # Other rows (the seed) may match too: check exactly which of ours do.
    assert codes_in(page, codes.values()) == [codes[name] for name in expected]


def test_filters_combine(client, catalogue):
    codes = catalogue["actions"]
    page = listed(client, territory="rural", family=catalogue["families"][0], operator=catalogue["operator"])
    assert [item["code"] for item in page["items"]] == [codes["rural"]]


def test_search_in_name_description_and_code_ignores_case(client, catalogue):
    codes = catalogue["actions"]
    by_text = listed(client, q="ZorGlub")
    assert [item["code"] for item in by_text["items"]] == [codes["urban"], codes["rural"], codes["both"]]
    by_code = listed(client, q=codes["none"].upper())
    assert [item["code"] for item in by_code["items"]] == [codes["none"]]
    # Accents and case alike, in the description ("Location ZORGLUB de véhicules").
    for spelling in ("zorglub de VEHICULES", "ZORGLUB DE VÉHICULES", "zorglub de vehicules"):
        assert [item["code"] for item in listed(client, q=spelling)["items"]] == [codes["rural"]], spelling
    # % is a character to look for, not a wildcard.
    assert [item["code"] for item in listed(client, q="100%")["items"]] == [codes["both"]]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"territory": "suburban"}, ["query", "territory"]),
        ({"operator": "abc"}, ["query", "operator"]),
        ({"operator": 2**40}, ["query", "operator"]),
        ({"q": "x" * 201}, ["query", "q"]),
        ({"q": "a\x00b"}, ["query", "q"]),
        ({"size": 501}, ["query", "size"]),
    ],
)
def test_invalid_filters_are_422(client, params, loc):
    assert_problem(client.get(f"{API}/actions", params=params), 422, loc)


def test_a_page_of_actions_is_one_query_whatever_its_length(client, session, engine, catalogue):
    """Families come with their actions (a join); a short last page needs no count."""
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        one = listed(client, family=catalogue["families"][0], q="garage")
        one_statements = len(statements)
        statements.clear()
        many = listed(client)
        many_statements = len(statements)
        statements.clear()
        full = listed(client, size=1)
        full_statements = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(one["items"]) == 1 and len(many["items"]) > 4
    assert one_statements == many_statements
    assert full["total"] == many["total"] and full_statements == many_statements + 1  # a full page: the count too
