"""Who may do what on the catalogue, and what the audit log says about it."""

import pytest

from app.auth.models import Role
from tests import factories
from tests.catalogue.helpers import API, assert_problem, next_code, next_number, stored


@pytest.fixture
def rows(session):
    family = factories.family(session, code=next_code("fam"))
    action = factories.action(session, family_id=family.id, code=next_code("act"), number=next_number())
    operator = factories.operator(session)
    site = factories.site(session, operator_id=operator.id)
    # Unused rows, so that an allowed DELETE would succeed.
    spare_family = factories.family(session, code=next_code("fam"))
    spare_action = factories.action(session, family_id=family.id, code=next_code("act"), number=next_number())
    spare_operator = factories.operator(session)
    session.commit()
    return {
        "family": family.code,
        "action": action.code,
        "operator": operator.id,
        "site": site.id,
        "spare_family": spare_family.code,
        "spare_action": spare_action.code,
        "spare_operator": spare_operator.id,
    }


def writes(rows):
    """(method, url, body, status for an admin) of every catalogue write, in WRITE_NAMES' order."""
    return [
        ("post", "/families", {"code": next_code("fam"), "name": "F"}, 201),
        ("patch", f"/families/{rows['family']}", {"name": "Renommée"}, 200),
        ("delete", f"/families/{rows['spare_family']}", None, 204),
        (
            "post",
            "/actions",
            {"code": next_code("act"), "number": next_number(), "family": rows["family"], "name": "A"},
            201,
        ),
        ("patch", f"/actions/{rows['action']}", {"name": "Renommée"}, 200),
        ("delete", f"/actions/{rows['spare_action']}", None, 204),
        ("post", "/operators", {"name": "O"}, 201),
        ("patch", f"/operators/{rows['operator']}", {"name": "Renommé"}, 200),
        ("delete", f"/operators/{rows['spare_operator']}", None, 204),
        ("post", f"/operators/{rows['operator']}/sites", {"name": "S", "commune": "Le Mans"}, 201),
    ]


def reads(rows):
    return [
        "/families",
        f"/families/{rows['family']}",
        "/actions",
        f"/actions/{rows['action']}",
        "/operators",
        f"/operators/{rows['operator']}",
        f"/operators/{rows['operator']}/sites",
    ]


WRITE_NAMES = [
    "create-family",
    "patch-family",
    "delete-family",
    "create-action",
    "patch-action",
    "delete-action",
    "create-operator",
    "patch-operator",
    "delete-operator",
    "create-site",
]


@pytest.mark.parametrize("index", range(len(WRITE_NAMES)), ids=WRITE_NAMES)
@pytest.mark.parametrize(("role", "status"), [(None, 401), ("reader", 403), ("portal", 403), ("operator", 403)])
def test_writes_need_an_admin(client, session, make_key, rows, index, role, status):
    headers = {}
    if role == "operator":
        headers = make_key(Role.operator, operator_id=rows["operator"])
    elif role:
        headers = make_key(Role(role))
    method, path, body, _ = writes(rows)[index]
    before = stored(session)
    assert_problem(client.request(method, API + path, json=body, headers=headers), status)
    assert stored(session) == before


@pytest.mark.parametrize("index", range(len(WRITE_NAMES)), ids=WRITE_NAMES)
def test_an_admin_may_write(client, admin, rows, index):
    method, path, body, status = writes(rows)[index]
    response = client.request(method, API + path, json=body, headers=admin)
    assert response.status_code == status, response.text


@pytest.mark.parametrize("who", ["anonymous", "reader", "admin"])
def test_reads_are_public(client, rows, who, request):
    headers = {} if who == "anonymous" else request.getfixturevalue(who)
    for path in reads(rows):
        response = client.get(API + path, headers=headers)
        assert response.status_code == 200, (path, response.text)


def test_an_unknown_key_is_401_even_on_a_public_read(client):
    assert_problem(client.get(f"{API}/families", headers={"Authorization": "Bearer not-a-key"}), 401)


# --- audit ------------------------------------------------------------------------------


def events(client, admin, entity, entity_id):
    response = client.get(f"{API}/audit-events", params={"entity": entity, "entity_id": str(entity_id)}, headers=admin)
    assert response.status_code == 200
    return [(e["action"], e["fields"], e["actor"]) for e in reversed(response.json()["items"])]


def test_family_writes_are_audited(client, make_key):
    admin = make_key(Role.admin, name="Service insertion")
    code, new_code = next_code("fam"), next_code("fam")
    client.post(f"{API}/families", json={"code": code, "name": "F", "position": 2}, headers=admin)
    client.patch(f"{API}/families/{code}", json={"code": new_code}, headers=admin)
    client.delete(f"{API}/families/{new_code}", headers=admin)
    assert events(client, admin, "family", code) == [("create", ["code", "name", "position"], "Service insertion")]
    assert events(client, admin, "family", new_code) == [
        ("update", ["code"], "Service insertion"),
        ("delete", [], "Service insertion"),
    ]


def test_action_writes_are_audited(client, make_key, rows):
    admin = make_key(Role.admin, name="Chargée de mission")
    code = next_code("act")
    body = {"code": code, "number": next_number(), "family": rows["family"], "name": "A", "indicators": ["exits"]}
    client.post(f"{API}/actions", json=body, headers=admin)
    client.patch(f"{API}/actions/{code}", json={"name": "B", "description": None}, headers=admin)
    client.delete(f"{API}/actions/{code}", headers=admin)
    assert events(client, admin, "action", code) == [
        ("create", ["code", "family", "indicators", "name", "number"], "Chargée de mission"),
        ("update", ["description", "name"], "Chargée de mission"),
        ("delete", [], "Chargée de mission"),
    ]


def test_operator_and_site_writes_are_audited(client, make_key):
    admin = make_key(Role.admin, name="Admin catalogue")
    operator = client.post(f"{API}/operators", json={"name": "O", "commune": "Le Mans"}, headers=admin).json()
    client.patch(f"{API}/operators/{operator['id']}", json={"phone": "02 43 00 00 00"}, headers=admin)
    site = client.post(
        f"{API}/operators/{operator['id']}/sites", json={"name": "S", "commune": "Allonnes"}, headers=admin
    ).json()
    assert events(client, admin, "operator", operator["id"]) == [
        ("create", ["commune", "name"], "Admin catalogue"),
        ("update", ["phone"], "Admin catalogue"),
    ]
    assert events(client, admin, "site", site["id"]) == [("create", ["commune", "name"], "Admin catalogue")]


def test_a_refused_write_leaves_no_audit_event(client, admin, rows):
    response = client.post(f"{API}/families", json={"code": rows["family"], "name": "Doublon"}, headers=admin)
    assert_problem(response, 409)
    assert [action for action, *_ in events(client, admin, "family", rows["family"])] == []
