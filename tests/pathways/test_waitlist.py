"""SPEC C3, seats that hold: a prescription on a full convention waits for a seat, in order of
arrival, and gets it by itself when one frees (an exit, a cancellation)."""

from datetime import date, timedelta

import pytest

from app.core.time import today
from tests import factories
from tests.pathways.helpers import API, assert_problem

SEATS = 2


@pytest.fixture
def full_world(session, make_key):
    """A convention running today with 2 seats, and an operator key of its operator."""
    this_year = today().year
    convention = factories.convention(
        session,
        start_on=date(this_year - 1, 1, 1),
        end_on=date(this_year + 1, 12, 31),
        years={this_year: {"places": SEATS}},
    )
    session.commit()
    return convention, make_key("operator", operator_id=convention.operator_id)


def prescribe(client, headers, convention, ref, **extra):
    body = {"convention_id": convention.id, "beneficiary_ref": ref, "prescribed_on": today().isoformat(), **extra}
    return client.post(f"{API}/pathways", json=body, headers=headers)


def seats_of(client, convention) -> dict:
    items = client.get(f"{API}/availability").json()["items"]
    return next(item for item in items if item["convention_id"] == convention.id)


def read(client, headers, pathway_id) -> dict:
    answer = client.get(f"{API}/pathways/{pathway_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_past_the_seats_prescriptions_wait_in_order_of_arrival(client, full_world, portal):
    convention, _operator = full_world
    answers = [prescribe(client, portal, convention, f"WAIT-{n}") for n in range(SEATS + 2)]
    assert [a.status_code for a in answers] == [201] * (SEATS + 2)
    assert [a.json()["status"] for a in answers] == ["prescribed"] * SEATS + ["waitlisted"] * 2
    assert [a.json()["waitlist_position"] for a in answers] == [None] * SEATS + [1, 2]
    item = seats_of(client, convention)
    assert (item["capacity"], item["reserved"], item["waitlisted"], item["available"]) == (SEATS, SEATS, 2, 0)
    listed = client.get(f"{API}/pathways", params={"status": "waitlisted"}, headers=portal).json()["items"]
    assert [p["id"] for p in listed] == [a.json()["id"] for a in answers[SEATS:]]


def test_if_full_refuse_is_a_409_and_stores_nothing(client, full_world, portal, session):
    convention, _operator = full_world
    for n in range(SEATS):
        assert prescribe(client, portal, convention, f"FULL-{n}").json()["status"] == "prescribed"
    refused = assert_problem(prescribe(client, portal, convention, "FULL-X", if_full="refuse"), 409)
    assert refused["type"].endswith("/convention-full")
    assert seats_of(client, convention)["reserved"] == SEATS
    assert seats_of(client, convention)["waitlisted"] == 0
    # With a seat free, `refuse` changes nothing: the prescription is taken.
    other = factories.convention(
        session, start_on=convention.start_on, end_on=convention.end_on, years={today().year: {"places": 1}}
    )
    session.commit()
    assert prescribe(client, portal, other, "FULL-Y", if_full="refuse").json()["status"] == "prescribed"


def test_a_cancellation_gives_the_seat_to_the_first_waiting(client, full_world, portal, admin):
    convention, _operator = full_world
    ids = [prescribe(client, portal, convention, f"CANCEL-{n}").json()["id"] for n in range(SEATS + 2)]
    cancelled = client.post(f"{API}/pathways/{ids[0]}/cancel", json={"cancel_reason": "entry refused"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert read(client, admin, ids[SEATS])["status"] == "prescribed"  # the first waiting
    assert read(client, admin, ids[SEATS])["waitlist_position"] is None
    last = read(client, admin, ids[SEATS + 1])
    assert (last["status"], last["waitlist_position"]) == ("waitlisted", 1)  # moved up


def test_an_exit_gives_the_seat_to_the_first_waiting(client, full_world, admin):
    convention, operator = full_world
    entry_day = (today() - timedelta(days=10)).isoformat()
    stays = [
        prescribe(client, operator, convention, f"EXIT-{n}", prescribed_on=entry_day, entered_on=entry_day)
        for n in range(SEATS)
    ]
    assert [s.json()["status"] for s in stays] == ["active"] * SEATS
    waiting = prescribe(client, operator, convention, "EXIT-W").json()
    assert waiting["status"] == "waitlisted"
    exit_body = {"exited_on": today().isoformat(), "exit_reason": "training"}
    assert (
        client.post(f"{API}/pathways/{stays[0].json()['id']}/exit", json=exit_body, headers=operator).status_code == 200
    )
    assert read(client, operator, waiting["id"])["status"] == "prescribed"


def test_an_exit_batch_gives_the_seats_freed_to_those_waiting(client, full_world):
    convention, operator = full_world
    entry_day = (today() - timedelta(days=10)).isoformat()
    stays = [
        prescribe(client, operator, convention, f"BATCH-{n}", prescribed_on=entry_day, entered_on=entry_day).json()
        for n in range(SEATS)
    ]
    waiting = [prescribe(client, operator, convention, f"BATCH-W{n}").json() for n in range(3)]
    assert {w["status"] for w in waiting} == {"waitlisted"}
    batch = [{"pathway_id": s["id"], "exited_on": today().isoformat(), "exit_reason": "training"} for s in stays]
    assert client.post(f"{API}/exit-records", json=batch, headers=operator).json()["counts"]["created"] == SEATS
    assert [read(client, operator, w["id"])["status"] for w in waiting] == ["prescribed", "prescribed", "waitlisted"]


def test_a_historical_import_is_recorded_as_it_happened(client, full_world):
    convention, operator = full_world
    for n in range(SEATS):
        prescribe(client, operator, convention, f"HIST-{n}")
    day = (today() - timedelta(days=30)).isoformat()
    imported = prescribe(client, operator, convention, "HIST-X", prescribed_on=day, entered_on=day)
    assert imported.status_code == 201 and imported.json()["status"] == "active"
    assert seats_of(client, convention)["occupied"] == 1  # overbooked: counted, never hidden


def test_entering_a_waitlisted_person_takes_them_off_the_list(client, full_world):
    convention, operator = full_world
    for n in range(SEATS):
        prescribe(client, operator, convention, f"ENTER-{n}")
    waiting = prescribe(client, operator, convention, "ENTER-W").json()
    entered = client.post(
        f"{API}/pathways/{waiting['id']}/entry", json={"entered_on": today().isoformat()}, headers=operator
    )
    assert entered.status_code == 200, entered.text
    assert (entered.json()["status"], entered.json()["waitlist_position"]) == ("active", None)
    assert seats_of(client, convention)["waitlisted"] == 0


def test_a_waitlisted_prescription_is_a_prescription_not_a_stay(client, full_world, admin):
    convention, _operator = full_world
    for n in range(SEATS + 1):
        prescribe(client, admin, convention, f"IND-{n}")
    rows = client.get(
        f"{API}/indicators",
        params={
            "year": today().year,
            "convention": convention.id,
            "indicators": "prescriptions,persons_present,entries",
        },
        headers=admin,
    ).json()["rows"]
    assert rows[0]["values"] == {"prescriptions": SEATS + 1, "persons_present": 0, "entries": 0}
