"""The seats' changes by day (ConventionSeatDay, kept by the counters' triggers) agree with a
recount of the pathways after every kind of write: the API's prescriptions (waiting list and
promotion included), entries, exits, cancellations; plain SQL statements of one or many rows,
deletions, a move to another convention, retention's bulk UPDATE; and availability's counts on
any day (app/availability/counts.py) are SPEC C3's count of the pathways that day."""

from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import select

from app.availability.counts import counts_on
from app.core.caller import CLI
from app.core.time import today
from app.pathways.models import Pathway
from app.pathways.retention import apply_retention
from app.seats.models import ConventionSeatDay
from tests import factories
from tests.pathways.helpers import API, recounted_seats, stored_seats
from tests.seats.test_states import spec_occupies_on, spec_reserves_on

START = date(2024, 1, 1)


def stored_days(session) -> dict[tuple[int, date], tuple[int, int]]:
    """The changes by day as the database keeps them (those back to zero left out)."""
    rows = session.exec(
        select(
            ConventionSeatDay.convention_id,
            ConventionSeatDay.day,
            ConventionSeatDay.occupied_delta,
            ConventionSeatDay.reserved_delta,
        )
    ).all()
    return {(row[0], row[1]): (row[2], row[3]) for row in rows if row[2] or row[3]}


def recounted_days(session) -> dict[tuple[int, date], tuple[int, int]]:
    """The same from every pathway row, in Python: a seat taken from its first day, given back on
    the day after its last (SPEC C3's spans)."""
    changes: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for row in session.exec(select(Pathway)).all():
        if row.entered_on is not None and row.cancelled_on is None:
            changes[row.convention_id, row.entered_on][0] += 1
            if row.exited_on is not None:
                changes[row.convention_id, row.exited_on + timedelta(days=1)][0] -= 1
        if not row.waitlisted:
            changes[row.convention_id, row.prescribed_on][1] += 1
            ended = row.entered_on or row.cancelled_on
            if ended is not None:
                changes[row.convention_id, ended][1] -= 1
    return {key: tuple(value) for key, value in changes.items() if any(value)}


def assert_counts_on_days_are_the_spec(session, convention_ids, days) -> None:
    pathways = session.exec(select(Pathway).where(Pathway.convention_id.in_(convention_ids))).all()
    for on in days:
        counts = counts_on(session=session, on=on, convention_ids=convention_ids)
        for convention_id in convention_ids:
            theirs = [row for row in pathways if row.convention_id == convention_id]
            present = [row for row in theirs if spec_occupies_on(row, on)]
            ends = [row.planned_end_on for row in present if row.planned_end_on and row.planned_end_on >= on]
            expected = (
                len(present),
                sum(spec_reserves_on(row, on) for row in theirs),
                sum(bool(row.waitlisted) for row in theirs),
                min(ends, default=None),
            )
            count = counts[convention_id]
            got = (count["occupied"], count["reserved"], count["waitlisted"], count["next_release_on"])
            assert got == expected, (convention_id, on)


def assert_kept(session) -> None:
    session.expire_all()
    assert stored_days(session) == recounted_days(session)
    assert stored_seats(session) == recounted_seats(session)


def test_api_writes_keep_the_changes_by_day(client, session, admin):
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
            json={"convention_id": convention.id, "beneficiary_ref": f"DAY-{number}", "prescribed_on": day},
            headers=admin,
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
        assert_kept(session)
    assert client.post(f"{API}/pathways/{ids[0]}/entry", json={"entered_on": day}, headers=admin).status_code == 200
    assert_kept(session)
    # A cancellation frees a seat: the first waiting prescription takes it (a promotion).
    cancelled = client.post(f"{API}/pathways/{ids[1]}/cancel", json={"cancel_reason": "moved"}, headers=admin)
    assert cancelled.status_code == 200, cancelled.text
    assert_kept(session)
    exits = [{"pathway_id": ids[0], "exited_on": day, "exit_reason": "training"}]
    assert client.post(f"{API}/exit-records", json=exits, headers=admin).status_code == 200
    assert_kept(session)
    days = [today() + timedelta(days=offset) for offset in (-1, 0, 1, 2)]
    assert_counts_on_days_are_the_spec(session, [convention.id], days)
    assert stored_days(session) != {}


STATES = st.sampled_from(["prescribed", "waitlisted", "entered", "exited", "cancelled"])


def _fields(state: str, offset: int, length: int) -> dict:
    prescribed_on = START + timedelta(days=offset)
    fields = {
        "prescribed_on": prescribed_on,
        "entered_on": None,
        "exited_on": None,
        "exit_reason": None,
        "cancelled_on": None,
        "waitlisted": state == "waitlisted",
        "planned_end_on": prescribed_on + timedelta(days=length + 3),
    }
    if state in ("entered", "exited"):
        fields["entered_on"] = prescribed_on + timedelta(days=length % 3)
    if state == "exited":
        fields |= {"exited_on": fields["entered_on"] + timedelta(days=length), "exit_reason": "training"}
    if state == "cancelled":
        fields["cancelled_on"] = prescribed_on + timedelta(days=length % 4)
    return fields


# One step: insert a row, move one row or several at once to a state (one statement), move a
# row to the other convention, delete a row, or run retention (a bulk UPDATE of dated rows).
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), STATES, st.integers(0, 1), st.integers(0, 40), st.integers(0, 9)),
        st.tuples(st.just("move"), STATES, st.integers(0, 50), st.integers(0, 40), st.integers(0, 9)),
        st.tuples(st.just("move many"), STATES, st.integers(0, 50), st.integers(0, 40), st.integers(0, 9)),
        st.tuples(st.just("switch convention"), st.just(""), st.integers(0, 50), st.integers(0, 1), st.just(0)),
        st.tuples(st.just("delete"), st.just(""), st.integers(0, 50), st.just(0), st.just(0)),
        st.tuples(st.just("retention"), st.just(""), st.just(0), st.just(0), st.just(0)),
    ),
    max_size=20,
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_sequence_of_writes_keeps_the_changes_by_day(session, steps):
    conventions = [factories.convention(session).id for _ in range(2)]
    # Statements on the connection, around the ORM and the feed's capture, as any writer of SQL
    # could: the triggers see them all.
    raw = session.connection().execute
    savepoint = session.begin_nested()
    try:
        for kind, state, pick, value, length in steps:
            ids = session.exec(select(Pathway.id).where(Pathway.convention_id.in_(conventions))).all()
            if kind == "insert":
                # A person of their own: retention forgets those it detached.
                beneficiary = factories.beneficiary(session)
                session.add(
                    Pathway(
                        convention_id=conventions[pick],
                        beneficiary_id=beneficiary.id,
                        person_key=beneficiary.id,
                        **_fields(state, value, length),
                    )
                )
                session.flush()
            elif kind == "retention":
                apply_retention(session=session, caller=CLI, ended_before=START + timedelta(days=30), dry_run=False)
            elif not ids:
                continue
            elif kind == "move":
                raw(update(Pathway).where(Pathway.id == ids[pick % len(ids)]).values(**_fields(state, value, length)))
            elif kind == "move many":
                chosen = ids[pick % len(ids) :]
                raw(update(Pathway).where(Pathway.id.in_(chosen)).values(**_fields(state, value, length)))
            elif kind == "switch convention":
                raw(update(Pathway).where(Pathway.id == ids[pick % len(ids)]).values(convention_id=conventions[value]))
            elif kind == "delete":
                raw(delete(Pathway).where(Pathway.id == ids[pick % len(ids)]))
            assert_kept(session)
        days = [START + timedelta(days=offset) for offset in range(-1, 60, 3)]
        assert_counts_on_days_are_the_spec(session, conventions, [*days, today(), today() + timedelta(days=1)])
    finally:
        savepoint.rollback()
