"""The data·inclusion fields of an action: stored, read back, and checked against the schema's
referentials on create and update (the vendored values of app/reference/data_inclusion.json)."""

import pytest

from app.reference import data_inclusion as di
from tests.catalogue.helpers import API, assert_problem, create_action, next_code, next_number, stored

FIELDS = {
    "thematiques": ["mobilite--acceder-a-un-vehicule", "mobilite--preparer-un-permis"],
    "type": "accompagnement",
    "publics": ["beneficiaires-des-minimas-sociaux"],
    "frais": "gratuit",
    "modes_accueil": ["en-presentiel"],
    "modes_mobilisation": ["utiliser-lien-mobilisation", "telephoner"],
    "mobilisable_par": ["professionnels"],
    "zone_eligibilite": ["72", "2A", "971", "72181", "2B033", "200040715", "99100", "france"],
}


def test_fields_are_stored_and_read_back(client, admin, family):
    action = create_action(client, admin, family, **FIELDS)
    read = client.get(f"{API}/actions/{action['code']}").json()
    assert {name: read[name] for name in FIELDS} == FIELDS


def test_fields_default_to_null(client, admin, family):
    action = create_action(client, admin, family)
    assert all(action[name] is None for name in FIELDS)


def test_patch_sets_and_erases_them(client, admin, family):
    action = create_action(client, admin, family, **FIELDS)
    url = f"{API}/actions/{action['code']}"
    response = client.patch(url, json={"publics": ["tous-publics"], "frais": None}, headers=admin)
    assert response.status_code == 200, response.text
    read = client.get(url).json()
    assert read["publics"] == ["tous-publics"]
    assert read["frais"] is None
    assert read["thematiques"] == FIELDS["thematiques"]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"thematiques": ["mobilite--acceder-a-un-vehicule", "mobilite"]}, ["body", "thematiques", 1]),
        ({"thematiques": []}, ["body", "thematiques"]),
        ({"thematiques": ["numerique--acquerir-un-equipement"] * 2}, ["body", "thematiques"]),
        ({"thematiques": "numerique--acquerir-un-equipement"}, ["body", "thematiques"]),
        ({"type": "coaching"}, ["body", "type"]),
        ({"type": ["accompagnement"]}, ["body", "type"]),
        ({"publics": ["rsa"]}, ["body", "publics", 0]),
        ({"publics": ["tous-publics", "femmes"]}, ["body", "publics"]),
        ({"frais": "gratuite"}, ["body", "frais"]),
        ({"modes_accueil": ["sur-place"]}, ["body", "modes_accueil", 0]),
        ({"modes_mobilisation": ["se-presenter", "envoyer-un-email"]}, ["body", "modes_mobilisation", 1]),
        ({"mobilisable_par": ["beneficiaires"]}, ["body", "mobilisable_par", 0]),
        ({"zone_eligibilite": []}, ["body", "zone_eligibilite"]),
        ({"zone_eligibilite": ["Sarthe"]}, ["body", "zone_eligibilite", 0]),
        ({"zone_eligibilite": ["7"]}, ["body", "zone_eligibilite", 0]),
        ({"zone_eligibilite": ["2C"]}, ["body", "zone_eligibilite", 0]),
        ({"zone_eligibilite": ["72", "72"]}, ["body", "zone_eligibilite"]),
    ],
)
def test_values_outside_the_referentials_are_refused_and_not_stored(client, admin, session, family, fields, loc):
    body = {"code": next_code("act"), "number": next_number(), "family": family, "name": "Action"} | fields
    before = stored(session)
    assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 422, loc)
    assert stored(session) == before


def test_patch_with_an_unknown_value_changes_nothing(client, admin, family):
    action = create_action(client, admin, family, **FIELDS)
    url = f"{API}/actions/{action['code']}"
    assert_problem(client.patch(url, json={"thematiques": ["pas-une-thematique"]}, headers=admin), 422)
    assert client.get(url).json()["thematiques"] == FIELDS["thematiques"]


def test_every_referential_value_is_accepted(client, admin, family):
    everything = {
        "thematiques": list(di.THEMATIQUES),
        "publics": [public for public in di.PUBLICS if public != di.TOUS_PUBLICS],
        "modes_accueil": list(di.MODES_ACCUEIL),
        "modes_mobilisation": list(di.MODES_MOBILISATION),
        "mobilisable_par": list(di.MOBILISABLE_PAR),
    }
    action = create_action(client, admin, family, **everything)
    assert {name: action[name] for name in everything} == everything
    for service_type in di.TYPES:
        assert create_action(client, admin, family, type=service_type)["type"] == service_type
    for frais in di.FRAIS:
        assert create_action(client, admin, family, frais=frais)["frais"] == frais


def test_openapi_lists_the_allowed_values(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    fields = schemas["ActionCreate"]["properties"]
    thematique = fields["thematiques"]["anyOf"][0]["items"]
    assert thematique["enum"] == list(di.THEMATIQUES)
    assert fields["frais"]["anyOf"][0]["enum"] == list(di.FRAIS)
