"""Reads of personal data are audited (SPEC C2): who, which filters, how many rows; never the data."""

import json
from datetime import date

from sqlmodel import select

from app.audit.models import AuditEvent
from tests.pathways.helpers import API, pathway_body


def _read_events(session) -> list[AuditEvent]:
    session.expire_all()
    statement = select(AuditEvent).where(AuditEvent.action.in_(["list", "read"])).order_by(AuditEvent.id)
    return list(session.exec(statement))


def _create(client, world, ref: str, **fields) -> dict:
    body = pathway_body(
        world.convention.id,
        ref=ref,
        beneficiary={"birth_year": 1987, "insee_code": "72181", "sex": "F"},
        **fields,
    )
    response = client.post(f"{API}/pathways", json=body, headers=world.operator_key)
    assert response.status_code == 201, response.text
    return response.json()


def test_listing_pathways_notes_who_which_filters_and_how_many_rows(client, session, world):
    for number in range(3):
        _create(client, world, f"RSA-AUD-{number}", entered_on="2019-02-01")
    assert _read_events(session) == []

    response = client.get(
        f"{API}/pathways",
        params={"convention": world.convention.id, "status": "active", "active_on": "2019-03-01", "size": 2},
        headers=world.operator_key,
    )
    assert response.status_code == 200
    assert response.json()["total"] == 3

    [event] = _read_events(session)
    assert (event.entity, event.entity_id, event.action, event.fields) == ("pathway", "*", "list", [])
    assert event.actor == "test operator" and event.api_key_id is not None
    assert event.details == {
        "filters": {"convention": world.convention.id, "status": "active", "active_on": "2019-03-01"},
        "page": 1,
        "size": 2,
        "rows": 2,
        "total": 3,
    }


def test_reading_one_pathway_is_noted(client, session, world):
    created = _create(client, world, "RSA-AUD-ONE")
    response = client.get(f"{API}/pathways/{created['id']}", headers=world.operator_key)
    assert response.status_code == 200
    [event] = _read_events(session)
    assert (event.entity, event.entity_id, event.action, event.details) == (
        "pathway",
        str(created["id"]),
        "read",
        {"rows": 1},
    )


def test_a_refused_read_notes_nothing(client, session, world):
    created = _create(client, world, "RSA-AUD-HIDDEN")
    assert client.get(f"{API}/pathways/{created['id']}", headers=world.other_operator_key).status_code == 404
    assert client.get(f"{API}/pathways", params={"updated_since": "0.5"}, headers=world.operator_key).status_code == 422
    assert _read_events(session) == []


def test_the_audit_log_never_holds_the_data_read(client, session, world, admin):
    created = _create(client, world, "RSA-AUD-SECRET", entered_on="2019-02-01")
    client.get(f"{API}/pathways", headers=admin)
    client.get(f"{API}/pathways/{created['id']}", headers=admin)
    events = client.get(f"{API}/audit-events", params={"entity": "pathway"}, headers=admin).json()["items"]
    reads = [event for event in events if event["action"] in ("list", "read")]
    assert len(reads) == 2 and all(event["details"]["rows"] >= 1 for event in reads)
    logged = json.dumps(reads)
    for personal in ("RSA-AUD-SECRET", "72181", "1987", created["prescribed_on"], str(date(2019, 2, 1))):
        assert personal not in logged
