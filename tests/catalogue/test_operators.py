"""Operators and their sites over HTTP: shape, SIRET and contact rules, filters, deletion."""

import pytest

from app.auth.models import Role
from tests import factories
from tests.catalogue.helpers import API, assert_problem, next_code, next_number, stored

VALID_SIRET = "73282932000074"  # INSEE's own example
OTHER_VALID_SIRET = "55208131766522"


def create(client, admin, **fields):
    response = client.post(f"{API}/operators", json={"name": next_code("Opérateur")} | fields, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_then_read_an_operator(client, admin):
    body = {
        "name": "Le Relais Sarthe",
        "legal_form": "Association loi 1901",
        "siret": VALID_SIRET,
        "address": "12 rue de la Paix",
        "postcode": "72000",
        "commune": "Le Mans",
        "email": "contact@le-relais.example.fr",
        "phone": "+33 2 43 00 00 00",
        "website": "https://le-relais.example.fr/sarthe",
    }
    created = client.post(f"{API}/operators", json=body, headers=admin)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in body} == body

    read = client.get(f"{API}/operators/{created.json()['id']}")
    assert read.status_code == 200
    assert read.json() == created.json()
    assert read.headers["ETag"]


def test_only_the_name_is_required(client, admin):
    operator = create(client, admin, name="CCAS d'Allonnes")
    assert operator["name"] == "CCAS d'Allonnes"
    assert operator["siret"] is None and operator["commune"] is None


def test_la_poste_siret_follows_its_own_rule(client, admin):
    # Not Luhn-valid (see test_siret), but its digits sum to a multiple of 5.
    assert create(client, admin, siret="35600000049837")["siret"] == "35600000049837"


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"name": ""}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"siret": "73282932000075"}, ["body", "siret"]),  # bad check key
        ({"siret": "7328293200007"}, ["body", "siret"]),  # 13 digits
        ({"siret": "732829320000740"}, ["body", "siret"]),  # 15 digits
        ({"siret": "7328293200007A"}, ["body", "siret"]),
        ({"siret": "732 829 320 00074"}, ["body", "siret"]),
        ({"siret": "35600000049838"}, ["body", "siret"]),  # La Poste, sum not a multiple of 5
        ({"siret": 73282932000074}, ["body", "siret"]),
        ({"postcode": "7200"}, ["body", "postcode"]),
        ({"postcode": "72 000"}, ["body", "postcode"]),
        ({"postcode": "7200A"}, ["body", "postcode"]),
        ({"email": "not-an-address"}, ["body", "email"]),
        ({"email": "a b@example.fr"}, ["body", "email"]),
        ({"email": "a@localhost"}, ["body", "email"]),
        ({"website": "ftp://example.fr"}, ["body", "website"]),
        ({"website": "example.fr"}, ["body", "website"]),
        ({"website": "https://"}, ["body", "website"]),
        ({"phone": "call me"}, ["body", "phone"]),
        ({"phone": "0" * 31}, ["body", "phone"]),
        ({"legal_form": "x" * 101}, ["body", "legal_form"]),
        ({"address": "x" * 301}, ["body", "address"]),
        ({"commune": "x" * 101}, ["body", "commune"]),
        ({"commune": "Le \x00Mans"}, ["body", "commune"]),
        ({"id": 12}, ["body", "id"]),
    ],
)
def test_invalid_operator_is_refused_and_not_stored(client, admin, session, fields, loc):
    body = {"name": "Opérateur"} | fields
    body = {k: v for k, v in body.items() if v is not None}
    before = stored(session)
    assert_problem(client.post(f"{API}/operators", json=body, headers=admin), 422, loc)
    assert stored(session) == before


def test_duplicate_siret_is_a_conflict(client, admin, session):
    create(client, admin, siret=VALID_SIRET)
    before = stored(session)
    assert_problem(client.post(f"{API}/operators", json={"name": "Doublon", "siret": VALID_SIRET}, headers=admin), 409)
    assert stored(session) == before


def test_patch_to_a_taken_siret_is_a_conflict(client, admin, session):
    create(client, admin, siret=VALID_SIRET)
    operator = create(client, admin, siret=OTHER_VALID_SIRET)
    before = stored(session)
    response = client.patch(f"{API}/operators/{operator['id']}", json={"siret": VALID_SIRET}, headers=admin)
    assert_problem(response, 409)
    assert stored(session) == before
    assert client.get(f"{API}/operators/{operator['id']}").json() == operator


def test_patch_keeps_its_own_siret_and_may_clear_it(client, admin):
    operator = create(client, admin, siret=VALID_SIRET, commune="Le Mans")
    url = f"{API}/operators/{operator['id']}"
    same = client.patch(url, json={"siret": VALID_SIRET, "commune": "Allonnes"}, headers=admin)
    assert same.status_code == 200
    assert (same.json()["siret"], same.json()["commune"]) == (VALID_SIRET, "Allonnes")
    cleared = client.patch(url, json={"siret": None}, headers=admin)
    assert cleared.status_code == 200
    assert cleared.json()["siret"] is None
    assert cleared.json() | {"updated_at": None} == same.json() | {"siret": None, "updated_at": None}


@pytest.mark.parametrize(
    ("patch", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"siret": "12345678901234"}, ["body", "siret"]),
        ({"email": "nope"}, ["body", "email"]),
        ({"website": "javascript:alert(1)"}, ["body", "website"]),
        ({"postcode": "1"}, ["body", "postcode"]),
        ({"nom": "x"}, ["body", "nom"]),
    ],
)
def test_invalid_patch_is_refused_and_changes_nothing(client, admin, session, patch, loc):
    operator = create(client, admin, siret=VALID_SIRET, email="a@b.fr")
    before = stored(session)
    assert_problem(client.patch(f"{API}/operators/{operator['id']}", json=patch, headers=admin), 422, loc)
    assert stored(session) == before
    assert client.get(f"{API}/operators/{operator['id']}").json() == operator


def test_stale_if_match_is_refused_and_the_current_one_accepted(client, admin, session):
    operator = create(client, admin)
    url = f"{API}/operators/{operator['id']}"
    etag = client.get(url).headers["ETag"]
    assert client.patch(url, json={"phone": "02 43 00 00 01"}, headers=admin).status_code == 200
    before = stored(session)

    assert_problem(client.patch(url, json={"phone": "02 43 00 00 02"}, headers=admin | {"If-Match": etag}), 412)
    assert stored(session) == before
    assert client.get(url).json()["phone"] == "02 43 00 00 01"

    current = client.get(url).headers["ETag"]
    fresh = client.patch(url, json={"phone": "02 43 00 00 02"}, headers=admin | {"If-Match": current})
    assert fresh.status_code == 200
    assert fresh.json()["phone"] == "02 43 00 00 02"
    assert fresh.headers["ETag"] == client.get(url).headers["ETag"] != current


def test_delete_an_unused_operator(client, admin):
    operator = create(client, admin)
    assert client.delete(f"{API}/operators/{operator['id']}", headers=admin).status_code == 204
    assert_problem(client.get(f"{API}/operators/{operator['id']}"), 404)


@pytest.mark.parametrize("held", ["convention", "site", "api_key"])
def test_delete_an_operator_still_in_use_is_a_conflict(client, admin, session, make_key, held):
    operator = factories.operator(session)
    if held == "convention":
        factories.convention(session, operator_id=operator.id)
    elif held == "site":
        factories.site(session, operator_id=operator.id)
    session.commit()
    if held == "api_key":
        make_key(Role.operator, operator_id=operator.id)
    before = stored(session)
    assert_problem(client.delete(f"{API}/operators/{operator.id}", headers=admin), 409)
    assert stored(session) == before
    assert client.get(f"{API}/operators/{operator.id}").status_code == 200


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_missing_operator_is_404(client, admin, session, method):
    before = stored(session)
    kwargs = {"json": {"name": "x"}} if method == "patch" else {}
    assert_problem(client.request(method, f"{API}/operators/{2**31 - 1}", headers=admin, **kwargs), 404)
    assert stored(session) == before


@pytest.mark.parametrize("operator_id", ["abc", "0", str(2**40)])
def test_malformed_operator_id_is_422(client, operator_id):
    assert_problem(client.get(f"{API}/operators/{operator_id}"), 422, ["path", "operator_id"])


# --- list and filters -------------------------------------------------------------------


def names_and_ids(page, ids) -> list[int]:
    ids = set(ids)
    return [item["id"] for item in page["items"] if item["id"] in ids]


def listed(client, **params):
    response = client.get(f"{API}/operators", params={"size": 500} | params)
    assert response.status_code == 200, response.text
    return response.json()


def test_list_is_ordered_by_name_then_id(client, admin):
    token = next_code("tri")
    second = create(client, admin, name=f"{token} B")
    first_a = create(client, admin, name=f"{token} A")
    first_b = create(client, admin, name=f"{token} A")
    page = listed(client, q=token)
    assert [item["id"] for item in page["items"]] == [first_a["id"], first_b["id"], second["id"]]
    assert page["total"] == 3


def test_filter_by_action(client, session):
    action = factories.action(session, code=next_code("act"), number=next_number())
    with_it = [factories.operator(session, name=name) for name in ("Zeta", "Alpha")]
    without = factories.operator(session)
    for operator in with_it:
        factories.convention(session, action_id=action.id, operator_id=operator.id)
    factories.convention(session, action_id=action.id, operator_id=with_it[0].id)  # two conventions: listed once
    factories.convention(session, operator_id=without.id)
    session.commit()
    page = listed(client, action=action.code)
    assert [item["id"] for item in page["items"]] == [with_it[1].id, with_it[0].id]
    assert page["total"] == 2
    assert listed(client, action="t-no-such-action")["total"] == 0


def test_filter_by_commune_looks_at_the_operator_and_its_sites(client, session):
    commune = next_code("Saint-Zorglub")
    own = factories.operator(session, name="A", commune=commune)
    by_site = factories.operator(session, name="B", commune="Le Mans")
    factories.site(session, operator_id=by_site.id, commune=commune.upper())
    factories.site(session, operator_id=by_site.id, commune=commune)  # two sites there: listed once
    elsewhere = factories.operator(session, name="C", commune="Le Mans")
    factories.site(session, operator_id=elsewhere.id, commune="Allonnes")
    session.commit()
    page = listed(client, commune=commune.lower())
    assert [item["id"] for item in page["items"]] == [own.id, by_site.id]
    assert page["total"] == 2


def test_filter_by_commune_ignores_case_and_accents_alike(client, session):
    commune = next_code("Évron")
    evron = factories.operator(session, name="CCAS d'Évron", commune=commune)
    by_site = factories.operator(session, name="Par son site", commune="Laval")
    factories.site(session, operator_id=by_site.id, commune=commune)
    session.commit()
    bare = commune.replace("É", "e")
    for spelling in (commune, commune.upper(), bare, bare.upper(), commune.lower()):
        assert [item["id"] for item in listed(client, commune=spelling)["items"]] == [evron.id, by_site.id], spelling


def test_search_by_name_ignores_accents(client, admin):
    token = next_code("zorglub")
    found = create(client, admin, name=f"Atelier {token} de la Flèche-Évêque")
    create(client, admin, name=f"Atelier {token} du Mans")
    for spelling in ("FLÈCHE-ÉVÊQUE", "fleche-eveque", "Flèche-évêque"):
        assert [item["id"] for item in listed(client, q=spelling)["items"]] == [found["id"]], spelling


def test_search_by_name_ignores_case(client, admin):
    token = next_code("needle")
    found = create(client, admin, name=f"CCAS {token.upper()} de la Flèche")
    create(client, admin, name="Sans rapport")
    assert [item["id"] for item in listed(client, q=token)["items"]] == [found["id"]]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"q": "x" * 201}, ["query", "q"]),
        ({"commune": "x" * 101}, ["query", "commune"]),
        ({"action": "a\x00"}, ["query", "action"]),
        ({"page": 0}, ["query", "page"]),
    ],
)
def test_invalid_filters_are_422(client, params, loc):
    assert_problem(client.get(f"{API}/operators", params=params), 422, loc)


# --- sites ------------------------------------------------------------------------------


def test_create_then_list_sites(client, admin):
    operator = create(client, admin)
    url = f"{API}/operators/{operator['id']}/sites"
    body = {
        "name": "Antenne Ajaccio",
        "address": "1 cours Napoléon",
        "postcode": "20000",
        "commune": "Ajaccio",
        "insee_code": "2A004",
        "territory": "urban",
        "latitude": 41.9192,
        "longitude": 8.7386,
    }
    created = client.post(url, json=body, headers=admin)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in body} == body
    assert created.json()["operator_id"] == operator["id"]
    minimal = client.post(url, json={"name": "Antenne B", "commune": "Sablé-sur-Sarthe"}, headers=admin)
    same_name = client.post(url, json={"name": "Antenne B", "commune": "Sillé-le-Guillaume"}, headers=admin)
    assert minimal.status_code == same_name.status_code == 201

    page = client.get(url).json()
    assert [site["id"] for site in page["items"]] == [
        created.json()["id"],
        minimal.json()["id"],
        same_name.json()["id"],
    ]
    assert page["total"] == 3


def test_sites_of_another_operator_are_not_listed(client, admin, session):
    operator, other = create(client, admin), factories.operator(session)
    factories.site(session, operator_id=other.id)
    session.commit()
    assert client.get(f"{API}/operators/{operator['id']}/sites").json()["total"] == 0


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"name": None}, ["body", "name"]),
        ({"commune": None}, ["body", "commune"]),
        ({"commune": ""}, ["body", "commune"]),
        ({"insee_code": "7218"}, ["body", "insee_code"]),
        ({"insee_code": "2C004"}, ["body", "insee_code"]),
        ({"insee_code": "2a004"}, ["body", "insee_code"]),
        ({"insee_code": "721810"}, ["body", "insee_code"]),
        ({"postcode": "720"}, ["body", "postcode"]),
        ({"territory": "suburban"}, ["body", "territory"]),
        ({"latitude": 90.5}, ["body", "latitude"]),
        ({"latitude": -91}, ["body", "latitude"]),
        ({"longitude": 180.01}, ["body", "longitude"]),
        ({"longitude": -200}, ["body", "longitude"]),
        ({"latitude": "north"}, ["body", "latitude"]),
        ({"operator_id": 1}, ["body", "operator_id"]),
    ],
)
def test_invalid_site_is_refused_and_not_stored(client, admin, session, fields, loc):
    operator = create(client, admin)
    body = {"name": "Site", "commune": "Le Mans"} | fields
    body = {k: v for k, v in body.items() if v is not None}
    before = stored(session)
    assert_problem(client.post(f"{API}/operators/{operator['id']}/sites", json=body, headers=admin), 422, loc)
    assert stored(session) == before


def test_sites_of_a_missing_operator_are_404(client, admin, session):
    url = f"{API}/operators/{2**31 - 1}/sites"
    before = stored(session)
    assert_problem(client.get(url), 404)
    assert_problem(client.post(url, json={"name": "Site", "commune": "Le Mans"}, headers=admin), 404)
    assert stored(session) == before
