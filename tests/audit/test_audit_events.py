"""GET /audit-events: admin only, newest first, with its filters."""

from datetime import datetime, timedelta, timezone

import pytest

API = "/api/v1"


@pytest.fixture
def two_writers(client, make_key):
    """Two admin keys, each having written once; returns their headers and key ids."""
    first, second = make_key("admin", name="Alice"), make_key("admin", name="Bruno")
    assert client.post(f"{API}/families", json={"code": "audit-a", "name": "A"}, headers=first).status_code == 201
    assert client.post(f"{API}/families", json={"code": "audit-b", "name": "B"}, headers=second).status_code == 201
    assert client.patch(f"{API}/families/audit-a", json={"name": "A2"}, headers=second).status_code == 200
    return first, second


def events(client, headers, **filters):
    response = client.get(f"{API}/audit-events", params=filters, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_filters_by_entity_id_and_action(client, two_writers):
    admin = two_writers[0]
    body = events(client, admin, entity="family", entity_id="audit-a")
    assert [(e["action"], e["actor"]) for e in body["items"]] == [("update", "Bruno"), ("create", "Alice")]
    assert body["total"] == 2
    assert body["items"][0]["fields"] == ["name"]

    updates = events(client, admin, entity="family", action="update", entity_id="audit-a")["items"]
    assert [e["actor"] for e in updates] == ["Bruno"]


def test_filters_by_key(client, two_writers):
    admin = two_writers[0]
    bruno_id = events(client, admin, entity_id="audit-b")["items"][0]["api_key_id"]
    by_bruno = events(client, admin, api_key_id=bruno_id)["items"]
    assert {(e["entity_id"], e["action"]) for e in by_bruno} == {("audit-b", "create"), ("audit-a", "update")}


def test_filters_by_time(client, two_writers):
    admin = two_writers[0]
    newest = events(client, admin, entity="family", entity_id="audit-a")["items"][0]
    after = events(client, admin, entity_id="audit-a", since=newest["at"])["items"]
    assert [e["action"] for e in after] == ["update"]
    before = events(client, admin, entity_id="audit-a", until=newest["at"])["items"]
    assert [e["action"] for e in before] == ["create"]


@pytest.mark.parametrize("role", ["reader", "portal"])
def test_only_admins_read_the_log(client, make_key, role):
    assert client.get(f"{API}/audit-events").status_code == 401
    response = client.get(f"{API}/audit-events", headers=make_key(role))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("offset_hours", [1, -5, 0])
def test_time_filters_mean_the_same_instant_whatever_the_offset(client, two_writers, offset_hours):
    """`since` written in Paris winter time (+01:00) or any other offset is the same instant as in
    UTC, on both databases (SQLite keeps no offset: the column type stores UTC)."""
    admin = two_writers[0]
    newest = events(client, admin, entity="family", entity_id="audit-a")["items"][0]
    at = datetime.fromisoformat(newest["at"].replace("Z", "+00:00"))
    assert at.utcoffset() == timedelta(0)  # read back in UTC
    elsewhere = at.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()
    assert [e["action"] for e in events(client, admin, entity_id="audit-a", since=elsewhere)["items"]] == ["update"]
    assert [e["action"] for e in events(client, admin, entity_id="audit-a", until=elsewhere)["items"]] == ["create"]
    a_second_later = (at + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=offset_hours))).isoformat()
    assert events(client, admin, entity_id="audit-a", since=a_second_later)["items"] == []
