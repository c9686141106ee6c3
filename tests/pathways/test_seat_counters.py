"""The seat counters the database keeps per convention (ConventionSeats, kept by triggers) agree
with a count of the pathways after any write: through the API, by plain SQL statements of one or
many rows, by deletions. Availability and seat decisions read them (app/seats/)."""

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import select

from app.conventions.models import Convention
from app.core.time import today
from app.pathways.models import Pathway
from app.seats.models import ConventionSeats
from tests import factories
from tests.pathways.helpers import API, recounted_seats, stored_seats

START = date(2024, 1, 1)


def test_every_convention_gets_its_counters_row_when_created(session):
    convention = factories.convention(session)
    session.flush()
    assert session.get(ConventionSeats, convention.id) is not None
    assert stored_seats(session).get(convention.id) is None  # all zero


def test_api_writes_keep_the_counters(client, session, admin):
    this_year = today().year
    convention = factories.convention(
        session,
        start_on=date(this_year - 1, 1, 1),
        end_on=date(this_year + 1, 12, 31),
        years={this_year: {"places": 2}},
    )
    session.commit()
    day = today().isoformat()
    ids = []
    for number in range(4):  # two take the seats, two wait
        answer = client.post(
            f"{API}/pathways",
            json={"convention_id": convention.id, "beneficiary_ref": f"SEAT-{number}", "prescribed_on": day},
            headers=admin,
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    assert stored_seats(session)[convention.id] == (0, 2, 2) == recounted_seats(session)[convention.id]

    assert client.post(f"{API}/pathways/{ids[0]}/entry", json={"entered_on": day}, headers=admin).status_code == 200
    assert stored_seats(session)[convention.id] == (1, 1, 2)
    # A cancellation frees a seat: the first waiting prescription takes it.
    cancelled = client.post(f"{API}/pathways/{ids[1]}/cancel", json={"cancel_reason": "moved"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert stored_seats(session)[convention.id] == (1, 1, 1)
    exits = [{"pathway_id": ids[0], "exited_on": day, "exit_reason": "training"}]
    assert client.post(f"{API}/exit-records", json=exits, headers=admin).status_code == 200
    session.expire_all()
    assert stored_seats(session) == recounted_seats(session)
    assert stored_seats(session)[convention.id] == (0, 2, 0)


# Pathway states a row may hold (the table's checks): prescribed, waitlisted, entered, exited, cancelled.
STATES = st.sampled_from(["prescribed", "waitlisted", "entered", "exited", "cancelled"])


def _fields(state: str, offset: int) -> dict:
    prescribed_on = START + timedelta(days=offset)
    fields = {
        "prescribed_on": prescribed_on,
        "entered_on": None,
        "exited_on": None,
        "exit_reason": None,
        "cancelled_on": None,
        "waitlisted": state == "waitlisted",
    }
    if state in ("entered", "exited"):
        fields["entered_on"] = prescribed_on + timedelta(days=3)
    if state == "exited":
        fields |= {"exited_on": prescribed_on + timedelta(days=30), "exit_reason": "training"}
    if state == "cancelled":
        fields["cancelled_on"] = prescribed_on + timedelta(days=1)
    return fields


# One step: insert a row, move one row or several at once to a state (one statement), move a
# row to the other convention, delete a row.
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), STATES, st.integers(0, 1), st.integers(0, 300)),
        st.tuples(st.just("move"), STATES, st.integers(0, 50), st.integers(0, 300)),
        st.tuples(st.just("move many"), STATES, st.integers(0, 50), st.integers(0, 300)),
        st.tuples(st.just("switch convention"), st.just(""), st.integers(0, 50), st.integers(0, 1)),
        st.tuples(st.just("delete"), st.just(""), st.integers(0, 50), st.integers(0, 0)),
    ),
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_sequence_of_sql_writes_keeps_the_counters(session, steps):
    conventions = [factories.convention(session).id for _ in range(2)]
    beneficiary = factories.beneficiary(session)
    # Statements on the connection, around the ORM and the feed's capture (which refuses a bulk
    # write that did not note its changes), as any writer of SQL could: the triggers see them all.
    raw = session.connection().execute
    savepoint = session.begin_nested()
    try:
        for kind, state, pick, value in steps:
            ids = session.exec(select(Pathway.id).where(Pathway.convention_id.in_(conventions))).all()
            if kind == "insert":
                session.add(
                    Pathway(
                        convention_id=conventions[pick],
                        beneficiary_id=beneficiary.id,
                        person_key=beneficiary.id,
                        **_fields(state, value),
                    )
                )
                session.flush()
            elif not ids:
                continue
            elif kind == "move":
                raw(update(Pathway).where(Pathway.id == ids[pick % len(ids)]).values(**_fields(state, value)))
            elif kind == "move many":
                chosen = ids[pick % len(ids) :]
                raw(update(Pathway).where(Pathway.id.in_(chosen)).values(**_fields(state, value)))
            elif kind == "switch convention":
                raw(update(Pathway).where(Pathway.id == ids[pick % len(ids)]).values(convention_id=conventions[value]))
            elif kind == "delete":
                raw(delete(Pathway).where(Pathway.id == ids[pick % len(ids)]))
            session.expire_all()
            assert stored_seats(session) == recounted_seats(session), (kind, state)
    finally:
        savepoint.rollback()


def test_deleting_a_convention_deletes_its_counters(session):
    convention = factories.convention(session)
    session.flush()
    session.connection().execute(delete(Convention).where(Convention.id == convention.id))
    session.expunge_all()  # the row went around the ORM
    assert session.get(ConventionSeats, convention.id) is None
