"""No tenant learns of another's persons (issue 22): `beneficiary_id`, the service's id for a
person shared by every tenant, is shown to admin keys only; operator and portal keys get null in
pathway reads, lists, writes' answers and the change feed."""

from app.auth.models import Role
from tests.pathways.helpers import API, pathway_body


def test_only_admin_sees_the_person_behind_a_pathway(client, session, world, make_key):
    admin, portal = make_key(Role.admin), make_key(Role.portal)
    # The same person in two tenants: operator B's convention, then operator A's.
    theirs = client.post(
        f"{API}/pathways", json=pathway_body(world.other_convention.id, "SHARED-1"), headers=world.other_operator_key
    )
    assert theirs.status_code == 201, theirs.text
    ours = client.post(
        f"{API}/pathways", json=pathway_body(world.convention.id, "SHARED-1"), headers=world.operator_key
    )
    assert ours.status_code == 201, ours.text
    by_portal = client.post(f"{API}/pathways", json=pathway_body(world.other_convention.id, "SHARED-2"), headers=portal)
    assert by_portal.status_code == 201, by_portal.text
    assert ours.json()["beneficiary_id"] is None and theirs.json()["beneficiary_id"] is None
    assert by_portal.json()["beneficiary_id"] is None

    for headers, pathway_id in ((world.operator_key, ours.json()["id"]), (portal, by_portal.json()["id"])):
        assert client.get(f"{API}/pathways/{pathway_id}", headers=headers).json()["beneficiary_id"] is None
        listed = client.get(f"{API}/pathways", headers=headers).json()["items"]
        assert listed and all(item["beneficiary_id"] is None for item in listed)
        feed = client.get(f"{API}/changes", params={"after": 0, "limit": 1000}, headers=headers).json()["items"]
        pathways = [item for item in feed if item["kind"] == "pathway" and item["data"]]
        assert pathways and all(item["data"]["beneficiary_id"] is None for item in pathways)

    # Admin sees the one person behind both tenants' pathways.
    first = client.get(f"{API}/pathways/{theirs.json()['id']}", headers=admin).json()["beneficiary_id"]
    second = client.get(f"{API}/pathways/{ours.json()['id']}", headers=admin).json()["beneficiary_id"]
    assert first is not None and first == second
    feed = client.get(f"{API}/changes", params={"after": 0, "limit": 1000}, headers=admin).json()["items"]
    assert {item["data"]["beneficiary_id"] for item in feed if item["kind"] == "pathway" and item["data"]} >= {first}


def test_an_operators_etag_still_guards_its_edits(client, world):
    created = client.post(
        f"{API}/pathways", json=pathway_body(world.convention.id, "ETAG-1"), headers=world.operator_key
    )
    etag = client.get(f"{API}/pathways/{created.json()['id']}", headers=world.operator_key).headers["ETag"]
    patched = client.patch(
        f"{API}/pathways/{created.json()['id']}", json={"hours": 4}, headers={**world.operator_key, "If-Match": etag}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["hours"] == 4
