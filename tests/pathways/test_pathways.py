"""Pathways over HTTP: create (prescription or whole import), read, list filters, PATCH with ETags,
the lifecycle steps, and the beneficiary upsert."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.catalogue.models import Action
from app.conventions.models import ConventionStatus
from app.core.time import today
from app.pathways.models import Pathway
from tests import factories
from tests.pathways.helpers import API, assert_problem, beneficiary_of, pathway_body, stored_pathway

URL = f"{API}/pathways"


def test_a_prescription_is_created_and_read_back(client, admin, world, session):
    response = client.post(URL, json=pathway_body(world.convention.id, site_id=world.site_id), headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "prescribed"
    assert created["prescribed_on"] == "2019-01-10" and created["entered_on"] is None
    assert created["site_id"] == world.site_id
    assert "beneficiary_ref" not in created
    assert response.headers["ETag"]

    read = client.get(f"{URL}/{created['id']}", headers=admin)
    assert read.status_code == 200
    assert read.json() == created
    assert read.headers["ETag"] == response.headers["ETag"]
    row = session.get(Pathway, created["id"])
    assert row.beneficiary_id == beneficiary_of(session, "RSA-0001").id


def test_a_historical_import_posts_a_whole_pathway(client, admin, world):
    body = pathway_body(
        world.convention.id,
        entered_on="2019-02-01",
        planned_end_on="2019-08-01",
        exited_on="2019-07-15",
        exit_reason="employment_cdi",
        hours=152.5,
    )
    response = client.post(URL, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "exited"
    assert (created["entered_on"], created["exited_on"], created["exit_reason"], created["hours"]) == (
        "2019-02-01",
        "2019-07-15",
        "employment_cdi",
        152.5,
    )


def test_characteristics_are_recorded_per_pathway_and_no_write_changes_another_ones(client, admin, world, session):
    other = factories.convention(session, operator_id=world.convention.operator_id)
    first = client.post(
        URL, json=pathway_body(world.convention.id, beneficiary={"birth_year": 1980, "sex": "F"}), headers=admin
    )
    # The same file number, written differently (case, spaces), is the same person.
    second = client.post(
        URL,
        json=pathway_body(other.id, ref="  rsa-0001 ", beneficiary={"territory": "rural", "sex": "X"}),
        headers=admin,
    )
    assert first.status_code == second.status_code == 201, second.text
    assert first.json()["beneficiary_id"] == second.json()["beneficiary_id"]
    first_read = client.get(f"{URL}/{first.json()['id']}", headers=admin).json()
    second_read = client.get(f"{URL}/{second.json()['id']}", headers=admin).json()
    assert (first_read["beneficiary"]["birth_year"], first_read["beneficiary"]["sex"]) == (1980, "F")
    assert first_read["beneficiary"]["territory"] is None
    assert (second_read["beneficiary"]["sex"], second_read["beneficiary"]["territory"]) == ("X", "rural")
    assert second_read["beneficiary"]["birth_year"] is None

    # A correction sets what it gives on its own pathway, and keeps what it does not give.
    patched = client.patch(
        f"{URL}/{first.json()['id']}", json={"beneficiary": {"territory": "urban"}}, headers=admin
    ).json()
    assert patched["beneficiary"] | {} == first_read["beneficiary"] | {"territory": "urban"}
    assert client.get(f"{URL}/{second.json()['id']}", headers=admin).json()["beneficiary"] == second_read["beneficiary"]


def _make_list_data(session, world):
    convention = world.convention
    ids = {
        "prescribed": stored_pathway(session, convention.id, "L-1", prescribed_on=date(2019, 3, 1)).id,
        "active": stored_pathway(
            session, convention.id, "L-2", prescribed_on=date(2019, 3, 1), entered_on=date(2019, 4, 1)
        ).id,
        "exited": stored_pathway(
            session,
            convention.id,
            "L-3",
            prescribed_on=date(2019, 3, 1),
            entered_on=date(2019, 4, 1),
            exited_on=date(2019, 6, 30),
            exit_reason="training",
        ).id,
        "cancelled": stored_pathway(
            session,
            convention.id,
            "L-4",
            prescribed_on=date(2019, 3, 1),
            cancelled_on=date(2019, 3, 20),
            cancel_reason="moved away",
        ).id,
    }
    other_action = factories.convention(session, operator_id=convention.operator_id)
    ids["other_action"] = stored_pathway(session, other_action.id, "L-5", entered_on=date(2019, 5, 1)).id
    ids["other_operator"] = stored_pathway(session, world.other_convention.id, "L-6", entered_on=date(2019, 5, 1)).id
    return ids


def _listed(client, headers, **query) -> list[int]:
    response = client.get(URL, params={"size": 500, **query}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids)
    return ids


def test_list_filters_by_convention_action_operator_and_status(client, admin, world, session):
    ids = _make_list_data(session, world)
    own = [ids[key] for key in ("prescribed", "active", "exited", "cancelled")]
    assert _listed(client, admin, convention=world.convention.id) == own
    code = session.get(Action, world.convention.action_id).code
    assert _listed(client, admin, action=code) == [*own, ids["other_operator"]]
    assert _listed(client, admin, operator=world.convention.operator_id) == [*own, ids["other_action"]]
    for status in ("prescribed", "active", "exited", "cancelled"):
        assert _listed(client, admin, convention=world.convention.id, status=status) == [ids[status]]
    assert _listed(client, admin, action="no-such-action") == []


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2019-03-31", []),  # before the entry
        ("2019-04-01", ["active", "exited"]),  # the entry day counts
        ("2019-06-30", ["active", "exited"]),  # so does the exit day
        ("2019-07-01", ["active"]),  # the day after the exit does not
    ],
)
def test_list_active_on_a_day(client, admin, world, session, day, expected):
    ids = _make_list_data(session, world)
    assert _listed(client, admin, convention=world.convention.id, active_on=day) == [ids[key] for key in expected]


def test_list_updated_since_compares_in_utc(client, admin, world, session):
    old = stored_pathway(session, world.convention.id, "U-1", updated_at=datetime(2023, 12, 31, 23, 30, tzinfo=UTC))
    new = stored_pathway(
        session,
        world.convention.id,
        "U-2",
        entered_on=date(2019, 2, 1),
        updated_at=datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
    )
    # 02:00 at +02:00 is 00:00 UTC: between the two rows only when compared in UTC.
    since = "2024-01-01T02:00:00+02:00"
    assert _listed(client, admin, convention=world.convention.id, updated_since=since) == [new.id]
    assert _listed(client, admin, convention=world.convention.id, updated_since="2023-01-01T00:00:00Z") == [
        old.id,
        new.id,
    ]


def test_list_pages(client, admin, world, session):
    created = [stored_pathway(session, world.convention.id, f"P-{n}").id for n in range(5)]
    response = client.get(URL, params={"convention": world.convention.id, "size": 2, "page": 2}, headers=admin)
    body = response.json()
    assert (body["total"], body["page"], body["size"]) == (5, 2, 2)
    assert [item["id"] for item in body["items"]] == created[2:4]


def test_patch_honours_if_match_and_changes_the_etag(client, admin, world, session):
    pathway = stored_pathway(session, world.convention.id, entered_on=date(2019, 2, 1))
    read = client.get(f"{URL}/{pathway.id}", headers=admin)
    etag = read.headers["ETag"]

    patched = client.patch(f"{URL}/{pathway.id}", json={"hours": 40}, headers={**admin, "If-Match": etag})
    assert patched.status_code == 200, patched.text
    assert patched.json()["hours"] == 40
    assert patched.headers["ETag"] != etag
    assert client.get(f"{URL}/{pathway.id}", headers=admin).headers["ETag"] == patched.headers["ETag"]

    stale = client.patch(f"{URL}/{pathway.id}", json={"hours": 50}, headers={**admin, "If-Match": etag})
    assert_problem(stale, 412)
    session.expire_all()
    assert session.get(Pathway, pathway.id).hours == 40


def test_patch_corrects_dates_and_rechecks_the_rules(client, admin, world, session):
    pathway = stored_pathway(session, world.convention.id, entered_on=date(2019, 2, 1))
    response = client.patch(
        f"{URL}/{pathway.id}",
        json={
            "entered_on": "2019-02-03",
            "planned_end_on": "2019-09-30",
            "beneficiary": {"household": "single_no_child"},
        },
        headers=admin,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["entered_on"], response.json()["planned_end_on"]) == ("2019-02-03", "2019-09-30")
    session.expire_all()
    stored = session.get(Pathway, pathway.id)
    assert stored.beneficiary_id == beneficiary_of(session, "RSA-0001").id
    assert stored.household == response.json()["beneficiary"]["household"] == "single_no_child"


def test_patch_refuses_a_null_prescription_date_and_unknown_fields(client, admin, world, session, nothing_stored):
    pathway = stored_pathway(session, world.convention.id)
    with nothing_stored():
        assert_problem(client.patch(f"{URL}/{pathway.id}", json={"prescribed_on": None}, headers=admin), 422)
        assert_problem(client.patch(f"{URL}/{pathway.id}", json={"convention_id": 1}, headers=admin), 422)
        assert_problem(client.patch(f"{URL}/{pathway.id}", json={"beneficiary_ref": "X"}, headers=admin), 422)


def test_lifecycle_prescription_entry_exit(client, admin, world, session):
    created = client.post(URL, json=pathway_body(world.convention.id), headers=admin).json()
    url = f"{URL}/{created['id']}"

    entry = client.post(
        f"{url}/entry",
        json={"entered_on": "2019-02-01", "planned_end_on": "2019-12-31", "site_id": world.site_id},
        headers=admin,
    )
    assert entry.status_code == 200, entry.text
    assert entry.json()["status"] == "active" and entry.json()["site_id"] == world.site_id
    assert entry.headers["ETag"]

    exit_ = client.post(
        f"{url}/exit", json={"exited_on": "2019-06-30", "exit_reason": "training", "hours": 80}, headers=admin
    )
    assert exit_.status_code == 200, exit_.text
    assert (exit_.json()["status"], exit_.json()["exit_reason"], exit_.json()["hours"]) == ("exited", "training", 80)
    assert exit_.headers["ETag"] == client.get(url, headers=admin).headers["ETag"]


def _audit_count(session, pathway_id) -> int:
    session.expire_all()
    return len(
        session.exec(
            select(AuditEvent).where(AuditEvent.entity == "pathway", AuditEvent.entity_id == str(pathway_id))
        ).all()
    )


def test_the_same_entry_or_exit_again_changes_nothing(client, admin, world, session):
    pathway = stored_pathway(session, world.convention.id, entered_on=date(2019, 2, 1))
    url = f"{URL}/{pathway.id}"
    again = client.post(f"{url}/entry", json={"entered_on": "2019-02-01"}, headers=admin)
    assert again.status_code == 200 and again.json()["entered_on"] == "2019-02-01"

    first = client.post(f"{url}/exit", json={"exited_on": "2019-06-30", "exit_reason": "training"}, headers=admin)
    events = _audit_count(session, pathway.id)
    second = client.post(f"{url}/exit", json={"exited_on": "2019-06-30", "exit_reason": "training"}, headers=admin)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert _audit_count(session, pathway.id) == events


def test_a_cancellation_defaults_to_today_and_is_idempotent(client, admin, world, session):
    pathway = stored_pathway(session, world.convention.id)
    url = f"{URL}/{pathway.id}/cancel"
    response = client.post(url, json={"cancel_reason": "La personne a déménagé"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_on"] == today().isoformat()
    again = client.post(url, json={"cancel_reason": "La personne a déménagé"}, headers=admin)
    assert again.status_code == 200 and again.json() == response.json()
    other_reason = client.post(url, json={"cancel_reason": "Autre"}, headers=admin)
    assert_problem(other_reason, 409)


def test_a_new_pathway_after_an_exit_is_allowed(client, admin, world, session):
    stored_pathway(
        session,
        world.convention.id,
        entered_on=date(2019, 2, 1),
        exited_on=date(2019, 5, 31),
        exit_reason="dropped_out",
    )
    response = client.post(
        URL, json=pathway_body(world.convention.id, prescribed_on="2019-06-01", entered_on="2019-06-01"), headers=admin
    )
    assert response.status_code == 201, response.text


def test_an_entry_after_an_earlier_exit_is_allowed(client, admin, world, session):
    stored_pathway(
        session,
        world.convention.id,
        entered_on=date(2019, 2, 1),
        exited_on=date(2019, 5, 31),
        exit_reason="dropped_out",
    )
    prescription = stored_pathway(session, world.convention.id, prescribed_on=date(2019, 5, 15))
    response = client.post(f"{URL}/{prescription.id}/entry", json={"entered_on": "2019-06-01"}, headers=admin)
    assert response.status_code == 200, response.text


def test_pathways_of_an_ended_convention_can_be_imported(client, admin, world, session):
    ended = factories.convention(session, operator_id=world.convention.operator_id, status=ConventionStatus.ended)
    response = client.post(URL, json=pathway_body(ended.id, entered_on="2019-02-01"), headers=admin)
    assert response.status_code == 201, response.text


def test_today_is_a_valid_date(client, admin, world, session):
    current = factories.convention(session, start_on=today() - timedelta(days=30), end_on=today() + timedelta(days=300))
    body = pathway_body(
        current.id,
        prescribed_on=today().isoformat(),
        entered_on=today().isoformat(),
        exited_on=today().isoformat(),
        exit_reason="completed",
    )
    assert client.post(URL, json=body, headers=admin).status_code == 201
