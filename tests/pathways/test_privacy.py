"""The file number never leaves in clear (responses, database, audit log, logs), and every write
is in the audit log by field names only."""

import logging
from datetime import date

from sqlmodel import select

from app.audit.models import AuditEvent
from app.pathways.models import Pathway
from tests.pathways.helpers import API, beneficiary_of, pathway_body, stored_pathway

SECRET_REF = "RSA-SECRET-123"


def test_the_ref_never_comes_back_in_clear(client, admin, world, session, caplog):
    caplog.set_level(logging.DEBUG)
    headers = world.operator_key
    convention_id = world.convention.id
    csv_headers = {**headers, "Content-Type": "text/csv"}
    responses = []

    def keep(response):
        responses.append(response)
        return response

    created = keep(
        client.post(
            f"{API}/pathways",
            json=pathway_body(convention_id, SECRET_REF, entered_on="2019-02-01", beneficiary={"sex": "F"}),
            headers=headers,
        )
    ).json()
    keep(client.post(f"{API}/pathways", json=pathway_body(convention_id, SECRET_REF), headers=headers))  # 409
    keep(
        client.post(
            f"{API}/pathways", json=pathway_body(convention_id, SECRET_REF, entered_on="2030-01-01"), headers=headers
        )
    )  # 422
    keep(client.post(f"{API}/pathways", json=pathway_body(convention_id, SECRET_REF * 5), headers=headers))  # too long
    keep(client.post(f"{API}/pathways", json=pathway_body(convention_id, SECRET_REF, sex="F"), headers=headers))
    keep(client.post(f"{API}/pathways", json=pathway_body(world.other_convention.id, SECRET_REF), headers=headers))
    keep(client.get(f"{API}/pathways/{created['id']}", headers=headers))
    keep(client.get(f"{API}/pathways", headers=headers))
    keep(client.patch(f"{API}/pathways/{created['id']}", json={"hours": 12}, headers=headers))
    by_ref = {
        "convention_id": convention_id,
        "beneficiary_ref": SECRET_REF,
        "entered_on": "2019-02-01",
        "exited_on": "2019-05-01",
        "exit_reason": "training",
    }
    keep(
        client.post(
            f"{API}/exit-records",
            json=[by_ref, {**by_ref, "entered_on": "2019-03-01"}, {**by_ref, "beneficiary_ref": SECRET_REF * 5}],
            headers=headers,
        )
    )
    csv_body = (
        f"convention_id,beneficiary_ref,entered_on,exited_on,exit_reason\n{convention_id},{SECRET_REF},"
        f"2019-02-01,2019-05-02,training\n{convention_id},{SECRET_REF},2019-02-09,2019-05-02,bad\n"
    )
    keep(client.post(f"{API}/exit-records", content=csv_body, headers=csv_headers))
    keep(
        client.post(
            f"{API}/exit-records", params={"atomic": "true"}, json=[{**by_ref, "exit_reason": "moved"}], headers=headers
        )
    )

    assert [r.status_code for r in responses] == [201, 409, 422, 422, 422, 404, 200, 200, 200, 200, 200, 422]
    for response in responses:
        text = (response.text + str(response.headers)).upper()
        assert SECRET_REF.upper() not in text
        assert "SECRET" not in text
    assert SECRET_REF.upper() not in caplog.text.upper()

    person = beneficiary_of(session, SECRET_REF)
    assert person is not None and SECRET_REF not in person.ref_hash
    assert len(person.ref_hash) == 64
    for event in session.exec(select(AuditEvent)).all():
        assert SECRET_REF.upper() not in (str(event.fields) + event.entity_id).upper()


def _events(session, entity: str, entity_id) -> list[tuple[str, list[str]]]:
    session.expire_all()
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.id)
    ).all()
    return [(row.action, row.fields) for row in rows]


def test_every_write_is_audited_by_field_names(client, admin, world, session):
    pathways = f"{API}/pathways"
    created = client.post(
        pathways, json=pathway_body(world.convention.id, "AUD-1", beneficiary={"birth_year": 1975}), headers=admin
    ).json()
    pathway_id, beneficiary_id = created["id"], created["beneficiary_id"]
    client.post(
        f"{pathways}/{pathway_id}/entry", json={"entered_on": "2019-02-01", "site_id": world.site_id}, headers=admin
    )
    client.patch(f"{pathways}/{pathway_id}", json={"hours": 20, "beneficiary": {"territory": "urban"}}, headers=admin)
    client.post(
        f"{pathways}/{pathway_id}/exit", json={"exited_on": "2019-06-01", "exit_reason": "training"}, headers=admin
    )
    prescription = client.post(pathways, json=pathway_body(world.convention.id, "AUD-2"), headers=admin).json()
    client.post(f"{pathways}/{prescription['id']}/cancel", json={"cancel_reason": "moved"}, headers=admin)
    batch_target = stored_pathway(session, world.convention.id, "AUD-3", entered_on=date(2019, 2, 1))
    client.post(
        f"{API}/exit-records",
        json=[{"pathway_id": batch_target.id, "exited_on": "2019-03-01", "exit_reason": "other"}],
        headers=admin,
    )
    activity = client.post(
        f"{API}/conventions/{world.convention.id}/activity",
        json={"on": "2019-03-01", "metric": "licences_obtained", "quantity": 2},
        headers=admin,
    ).json()

    assert _events(session, "pathway", pathway_id) == [
        ("create", ["beneficiary.birth_year", "beneficiary_id", "convention_id", "prescribed_on"]),
        ("entry", ["entered_on", "site_id"]),
        ("update", ["beneficiary.territory", "hours"]),
        ("exit", ["exit_reason", "exited_on"]),
    ]
    assert _events(session, "beneficiary", beneficiary_id) == [("create", ["ref_hash"])]
    assert _events(session, "pathway", prescription["id"])[-1] == ("cancel", ["cancel_reason", "cancelled_on"])
    # A batch is audited as one event naming its pathways.
    assert _events(session, "exit_records", "1 pathways") == [("exit", [f"pathway:{batch_target.id}"])]
    assert _events(session, "activity_record", activity["id"]) == [("create", ["metric", "on", "quantity"])]
    session.expire_all()
    stored = session.get(Pathway, pathway_id)
    assert (stored.exited_on, stored.territory, stored.birth_year) == (date(2019, 6, 1), "urban", 1975)
