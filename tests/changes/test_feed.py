"""GET /changes (SPEC C3): each entity once at its latest change, in commit order, tombstones for
what is gone, and only what the caller may read."""

from datetime import date

import pytest

from app.core.time import today
from tests import factories
from tests.pathways.helpers import API


def feed(client, headers=None, after=0, limit=1000) -> dict:
    answer = client.get(f"{API}/changes", params={"after": after, "limit": limit}, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def everything(client, headers=None, after=0) -> tuple[list[dict], int]:
    """All items after `after`, page by page as a client would poll; and the last `next`."""
    items = []
    while True:
        page = feed(client, headers, after=after, limit=7)
        items += page["items"]
        if not page["items"]:
            return items, page["next"]
        after = page["next"]


def latest(items: list[dict]) -> dict[tuple[str, str], dict]:
    state = {}
    for item in items:
        state[item["kind"], item["id"]] = item
    return state


def test_a_change_appears_once_at_its_latest_state(client, admin):
    _, start = everything(client)
    assert client.post(f"{API}/families", json={"code": "feed-a", "name": "A"}, headers=admin).status_code == 201
    assert client.patch(f"{API}/families/feed-a", json={"name": "A2"}, headers=admin).status_code == 200
    items, _ = everything(client, after=start)
    families = [item for item in items if item["kind"] == "family"]
    assert [(f["id"], f["state"], f["data"]["name"]) for f in families] == [("feed-a", "updated", "A2")]
    # the whole feed, replayed from the start, holds it once too
    replay, _ = everything(client)
    assert sum(1 for item in replay if (item["kind"], item["id"]) == ("family", "feed-a")) == 1


def test_cursors_increase_and_next_resumes_where_a_page_ended(client, admin):
    _, start = everything(client)
    for n in range(5):
        client.post(f"{API}/families", json={"code": f"feed-order-{n}", "name": "x"}, headers=admin)
    first = feed(client, after=start, limit=2)
    rest, _ = everything(client, after=first["next"])
    cursors = [item["cursor"] for item in first["items"] + rest]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert [item["id"] for item in first["items"] + rest] == [f"feed-order-{n}" for n in range(5)]
    assert feed(client, after=cursors[-1])["next"] == cursors[-1]  # nothing new: next stays


def test_deletions_and_renames_are_tombstones(client, admin):
    client.post(f"{API}/families", json={"code": "feed-gone", "name": "x"}, headers=admin)
    client.post(f"{API}/families", json={"code": "feed-old", "name": "x"}, headers=admin)
    _, start = everything(client)
    assert client.delete(f"{API}/families/feed-gone", headers=admin).status_code == 204
    assert client.patch(f"{API}/families/feed-old", json={"code": "feed-new"}, headers=admin).status_code == 200
    state = latest(everything(client, after=start)[0])
    assert (state["family", "feed-gone"]["state"], state["family", "feed-gone"]["data"]) == ("deleted", None)
    assert state["family", "feed-old"]["state"] == "deleted"
    assert state["family", "feed-new"]["state"] == "updated"


def test_an_ended_convention_is_a_tombstone_and_its_availability_too(client, admin, session):
    this_year = today().year
    convention = factories.convention(
        session, start_on=date(this_year, 1, 1), end_on=date(this_year, 12, 31), years={this_year: {"places": 4}}
    )
    session.commit()
    _, start = everything(client, admin)
    etag = client.get(f"{API}/conventions/{convention.id}", headers=admin).headers["ETag"]
    ended = client.patch(
        f"{API}/conventions/{convention.id}", json={"status": "ended"}, headers=admin | {"If-Match": etag}
    )
    assert ended.status_code == 200, ended.text
    state = latest(everything(client, admin, after=start)[0])
    assert state["convention", str(convention.id)]["state"] == "deleted"
    assert state["availability", str(convention.id)]["state"] == "deleted"


def test_an_ended_conventions_tombstone_is_not_sent_again_by_later_writes(client, admin, session):
    """Renaming the action or the operator of an ended convention changes nothing its tombstone
    shows: the item keeps its cursor, while a running convention's item moves."""
    action = factories.action(session)
    operator = factories.operator(session)
    this_year = today().year
    ended = factories.convention(session, action_id=action.id, operator_id=operator.id)  # 2018-2020
    running = factories.convention(
        session,
        action_id=action.id,
        operator_id=operator.id,
        start_on=date(this_year, 1, 1),
        end_on=date(this_year, 12, 31),
        years={this_year: {"places": 2}},
    )
    session.commit()
    _, start = everything(client, admin)
    assert client.patch(f"{API}/actions/{action.code}", json={"name": "Renamed"}, headers=admin).status_code == 200
    assert client.patch(f"{API}/operators/{operator.id}", json={"name": "Renamed"}, headers=admin).status_code == 200
    moved = {(item["kind"], item["id"]) for item in everything(client, admin, after=start)[0]}
    assert ("availability", str(running.id)) in moved
    assert ("availability", str(ended.id)) not in moved


def test_seats_taken_move_the_availability_item(client, admin, session):
    this_year = today().year
    convention = factories.convention(
        session, start_on=date(this_year, 1, 1), end_on=date(this_year, 12, 31), years={this_year: {"places": 4}}
    )
    session.commit()
    _, start = everything(client)
    body = {"convention_id": convention.id, "beneficiary_ref": "FEED-SEAT", "prescribed_on": today().isoformat()}
    assert client.post(f"{API}/pathways", json=body, headers=admin).status_code == 201
    item = latest(everything(client, after=start)[0])["availability", str(convention.id)]
    assert (item["state"], item["data"]["reserved"], item["data"]["available"]) == ("updated", 1, 3)


@pytest.mark.parametrize("role", ["anonymous", "reader", "operator", "other operator", "portal", "admin"])
def test_pathways_appear_only_to_who_may_read_them(client, make_key, session, role):
    convention = factories.convention(session)
    other = factories.convention(session)
    session.commit()
    keys = {
        "anonymous": None,
        "reader": make_key("reader"),
        "operator": make_key("operator", operator_id=convention.operator_id),
        "other operator": make_key("operator", operator_id=other.operator_id),
        "portal": make_key("portal"),
        "admin": make_key("admin"),
    }
    _, start = everything(client, keys["admin"])
    body = {"convention_id": convention.id, "beneficiary_ref": "FEED-RIGHTS", "prescribed_on": "2019-03-01"}
    created = client.post(f"{API}/pathways", json=body, headers=keys["portal"]).json()
    items, _ = everything(client, keys[role], after=start)
    seen = {item["id"] for item in items if item["kind"] == "pathway"}
    expected = role in ("operator", "portal", "admin")
    assert seen == ({str(created["id"])} if expected else set())
    if expected:
        pathway = next(item for item in items if item["kind"] == "pathway")
        assert pathway["data"]["id"] == created["id"] and "beneficiary_ref" not in pathway["data"]
    conventions_seen = any(item["kind"] == "convention" for item in everything(client, keys[role])[0])
    assert conventions_seen == (role != "anonymous")


def test_bad_cursors_and_limits_are_422(client):
    for params in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 1001}):
        answer = client.get(f"{API}/changes", params=params)
        assert answer.status_code == 422, params


def test_rows_written_in_bulk_get_their_feed_rows(client, admin, session):
    """The demo loader writes with bulk statements, which the ORM capture does not see:
    `record_missing` gives every such entity its row, once."""
    from sqlalchemy import insert

    from app.core.time import utcnow
    from app.outbox.service import record_missing
    from app.pathways.models import Pathway

    convention = factories.convention(session)
    person = factories.beneficiary(session)
    session.commit()
    _, start = everything(client, admin)
    now = utcnow()
    inserted = session.execute(
        # A loader that writes around the ORM says that record_missing will note its rows.
        insert(Pathway.__table__).returning(Pathway.__table__.c.id).execution_options(feed_noted=True),
        [
            {
                "convention_id": convention.id,
                "beneficiary_id": person.id,
                "prescribed_on": date(2019, 2, 1),
                "created_at": now,
                "updated_at": now,
            }
        ],
    ).scalar_one()
    session.info.pop("changes.pending", None)  # as a bulk loader leaves it: nothing noted
    session.commit()
    assert all(item["id"] != str(inserted) for item in everything(client, admin, after=start)[0])
    assert record_missing(session) >= 1
    session.commit()
    assert record_missing(session) == 0  # idempotent
    items = everything(client, admin, after=start)[0]
    assert [item["state"] for item in items if (item["kind"], item["id"]) == ("pathway", str(inserted))] == ["updated"]
