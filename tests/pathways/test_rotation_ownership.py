"""Ownership that survives rotation (issue 22): what a portal key prescribed belongs to the key's
holder, every generation of a rotated key (`pdi keys rotate`) included, in reads, lists and the
change feed; another portal still sees none of it."""

from app.auth.models import ApiKey, Role
from app.auth.service import create_key, key_generations, rotate_key
from tests.pathways.helpers import API, assert_problem, pathway_body


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _feed_pathway_ids(client, headers) -> set[int]:
    items = client.get(f"{API}/changes", params={"after": 0, "limit": 1000}, headers=headers).json()["items"]
    return {int(item["id"]) for item in items if item["kind"] == "pathway"}


def test_a_rotated_portal_key_keeps_every_prescription_of_its_holder(client, session, world, make_key):
    first_row, first_key = create_key(session=session, role=Role.portal, name="Portail RSA")
    session.commit()
    made_by_first = client.post(
        f"{API}/pathways", json=pathway_body(world.other_convention.id, "ROT-1"), headers=_bearer(first_key)
    )
    assert made_by_first.status_code == 201, made_by_first.text

    _old, second_row, second_key = rotate_key(session=session, key_id=first_row.id, grace_days=7)
    _old, third_row, third_key = rotate_key(session=session, key_id=second_row.id, grace_days=7)
    session.commit()
    made_by_third = client.post(
        f"{API}/pathways", json=pathway_body(world.other_convention.id, "ROT-3"), headers=_bearer(third_key)
    )
    assert made_by_third.status_code == 201, made_by_third.text
    ours = {made_by_first.json()["id"], made_by_third.json()["id"]}

    assert key_generations(session=session, key_id=second_row.id) == tuple(
        sorted((first_row.id, second_row.id, third_row.id))
    )
    for key in (first_key, second_key, third_key):  # every generation, the old ones in their grace
        headers = _bearer(key)
        listed = {item["id"] for item in client.get(f"{API}/pathways", headers=headers).json()["items"]}
        assert listed == ours
        for pathway_id in ours:
            assert client.get(f"{API}/pathways/{pathway_id}", headers=headers).status_code == 200
        assert ours <= _feed_pathway_ids(client, headers)

    stranger = make_key(Role.portal)
    assert client.get(f"{API}/pathways", headers=stranger).json()["items"] == []
    for pathway_id in ours:
        assert_problem(client.get(f"{API}/pathways/{pathway_id}", headers=stranger), 404)
    assert not ours & _feed_pathway_ids(client, stranger)
    assert session.get(ApiKey, third_row.id).rotated_from_id == second_row.id
