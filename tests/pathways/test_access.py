"""Who may do what: every role against every endpoint of the pathways domain, as one table.

The target is always operator A's convention and its pathways; "operator_own" is A's key,
"operator_other" is operator B's. Refusals store nothing; lists never show what a caller may not read.
"""

from datetime import date

import pytest

from app.auth.models import Role
from app.conventions.models import ConventionStatus
from tests import factories
from tests.pathways.helpers import API, assert_problem, pathway_body, stored_pathway

ROLES = ("anonymous", "reader", "portal", "operator_own", "operator_other", "admin")

# endpoint → expected status per role, in the order of ROLES
EXPECTED = {
    "list pathways": (401, 403, 200, 200, 200, 200),
    "create pathway": (401, 403, 201, 201, 404, 201),
    "get pathway": (401, 403, 404, 200, 404, 200),
    "patch pathway": (401, 403, 403, 200, 404, 200),
    "entry": (401, 403, 403, 200, 404, 200),
    "exit": (401, 403, 403, 200, 404, 200),
    "cancel": (401, 403, 403, 200, 404, 200),
    "exit records": (401, 403, 403, 200, 200, 200),
    "list activity": (401, 200, 200, 200, 404, 200),
    "post activity": (401, 403, 403, 201, 404, 201),
}
# Who sees operator A's pathway in a list, or records its exit in a batch.
SEES_TARGET = {"operator_own", "admin"}


def _call(client, endpoint: str, headers: dict, world, active_id: int, prescribed_id: int):
    pathways = f"{API}/pathways"
    activity = f"{API}/conventions/{world.convention.id}/activity"
    exit_body = {"exited_on": "2019-06-30", "exit_reason": "training"}
    calls = {
        "list pathways": lambda: client.get(pathways, params={"convention": world.convention.id}, headers=headers),
        "create pathway": lambda: client.post(
            pathways, json=pathway_body(world.convention.id, "NEW-1"), headers=headers
        ),
        "get pathway": lambda: client.get(f"{pathways}/{active_id}", headers=headers),
        "patch pathway": lambda: client.patch(f"{pathways}/{active_id}", json={"hours": 10}, headers=headers),
        "entry": lambda: client.post(
            f"{pathways}/{prescribed_id}/entry", json={"entered_on": "2019-02-01"}, headers=headers
        ),
        "exit": lambda: client.post(f"{pathways}/{active_id}/exit", json=exit_body, headers=headers),
        "cancel": lambda: client.post(
            f"{pathways}/{prescribed_id}/cancel", json={"cancel_reason": "x"}, headers=headers
        ),
        "exit records": lambda: client.post(
            f"{API}/exit-records", json=[{"pathway_id": active_id, **exit_body}], headers=headers
        ),
        "list activity": lambda: client.get(activity, headers=headers),
        "post activity": lambda: client.post(
            activity, json={"on": "2019-03-01", "metric": "workshop_sessions", "quantity": 2}, headers=headers
        ),
    }
    return calls[endpoint]()


@pytest.mark.parametrize("endpoint", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, session, make_key, world, nothing_stored, role, endpoint):
    active = stored_pathway(session, world.convention.id, "T-1", entered_on=date(2019, 1, 15))
    prescribed = stored_pathway(session, world.convention.id, "T-2")
    headers = {
        "anonymous": {},
        "reader": make_key(Role.reader),
        "portal": make_key(Role.portal),
        "operator_own": world.operator_key,
        "operator_other": world.other_operator_key,
        "admin": make_key(Role.admin),
    }[role]
    expected = EXPECTED[endpoint][ROLES.index(role)]

    if expected >= 400:
        with nothing_stored():
            assert_problem(_call(client, endpoint, headers, world, active.id, prescribed.id), expected)
        return
    response = _call(client, endpoint, headers, world, active.id, prescribed.id)
    assert response.status_code == expected, response.text
    if endpoint == "list pathways":
        listed = {item["id"] for item in response.json()["items"]}
        assert ({active.id, prescribed.id} <= listed) == (role in SEES_TARGET)
        assert not listed or role in SEES_TARGET
    if endpoint == "exit records":
        result = response.json()["results"][0]
        if role in SEES_TARGET:
            assert result["status"] == "created"
        else:
            assert (result["status"], result["problem"]["status"]) == ("error", 404)


def test_a_portal_key_reads_back_only_the_prescriptions_it_created(client, make_key, world, session):
    portal_key = make_key(Role.portal)
    other_portal_key = make_key(Role.portal)
    created = client.post(f"{API}/pathways", json=pathway_body(world.other_convention.id), headers=portal_key)
    assert created.status_code == 201, created.text
    pathway_id = created.json()["id"]
    assert client.get(f"{API}/pathways/{pathway_id}", headers=portal_key).status_code == 200
    assert [p["id"] for p in client.get(f"{API}/pathways", headers=portal_key).json()["items"]] == [pathway_id]
    assert_problem(client.get(f"{API}/pathways/{pathway_id}", headers=other_portal_key), 404)
    assert client.get(f"{API}/pathways", headers=other_portal_key).json()["items"] == []


def test_a_duplicate_names_the_other_pathway_only_to_who_may_read_it(client, make_key, admin, world):
    """Two portals prescribing the same person: the second's 409 must not reveal the first's
    pathway (its id would be a 404 to that portal); the first portal and an admin see it named."""
    first_portal, second_portal = make_key(Role.portal), make_key(Role.portal)
    body = pathway_body(world.other_convention.id, "DUP-1")
    first = client.post(f"{API}/pathways", json=body, headers=first_portal)
    assert first.status_code == 201, first.text
    named = f"pathway {first.json()['id']} "

    refused = assert_problem(client.post(f"{API}/pathways", json=body, headers=second_portal), 409)
    assert named not in refused["detail"] and "a pathway in convention" in refused["detail"]
    assert named in assert_problem(client.post(f"{API}/pathways", json=body, headers=first_portal), 409)["detail"]
    assert named in assert_problem(client.post(f"{API}/pathways", json=body, headers=admin), 409)["detail"]


@pytest.mark.parametrize(
    "fields",
    [
        {"entered_on": "2019-02-01"},
        {"hours": 3},
        {"entered_on": "2019-02-01", "exited_on": "2019-03-01", "exit_reason": "other"},
    ],
)
def test_a_portal_key_posts_prescriptions_only(client, portal, world, nothing_stored, fields):
    with nothing_stored():
        assert_problem(
            client.post(f"{API}/pathways", json=pathway_body(world.convention.id, **fields), headers=portal), 403
        )


def test_a_portal_key_prescribes_on_active_conventions_only(client, portal, admin, world, session, nothing_stored):
    ended = factories.convention(session, status=ConventionStatus.ended)
    session.commit()
    with nothing_stored():
        assert_problem(client.post(f"{API}/pathways", json=pathway_body(ended.id), headers=portal), 422)
    assert client.post(f"{API}/pathways", json=pathway_body(ended.id), headers=admin).status_code == 201


def test_an_operator_filtering_on_another_operator_sees_nothing(client, world, session):
    stored_pathway(session, world.other_convention.id, "O-1")
    response = client.get(
        f"{API}/pathways", params={"operator": world.other_convention.operator_id}, headers=world.operator_key
    )
    assert response.json() == {"items": [], "total": 0, "page": 1, "size": 50}


def test_a_revoked_or_unknown_key_is_a_401(client, world):
    assert_problem(client.get(f"{API}/pathways", headers={"Authorization": "Bearer pdi_nope"}), 401)
    assert_problem(client.post(f"{API}/exit-records", json=[], headers={"Authorization": "Bearer pdi_nope"}), 401)
