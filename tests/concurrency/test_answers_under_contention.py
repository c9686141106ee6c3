"""SPEC C7 under contention, on both databases: refusals, withdrawals, cancellations, new
prescriptions and expiry runs on one convention at once all land, the waiting list moves in
order, and the seat counters the database keeps equal a recount of the pathways."""

from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.catalogue.models import Action
from app.core.db import PdiSession
from app.core.engines import writer_engine
from app.core.time import today
from app.pathways.expiry import expire_prescriptions
from app.pathways.models import Pathway
from tests import factories
from tests.concurrency.conftest import World, client_of, run_at_once
from tests.pathways.helpers import recounted_seats, stored_seats

pytestmark = pytest.mark.slow

API = "/api/v1"
SEATS = 4


def _convention(world: World) -> int:
    this_year = today().year
    with world.session() as session:
        convention = factories.convention(
            session,
            action_id=session.exec(select(Action.id).where(Action.code == world.action_code)).one(),
            operator_id=world.operator_id,
            start_on=date(this_year - 1, 1, 1),
            end_on=date(this_year + 1, 12, 31),
            years={this_year: {"places": SEATS}},
        )
        session.commit()
        return convention.id


def _prescribe(client, world: World, convention_id: int, ref: str, on: date | None = None) -> dict:
    body = {"convention_id": convention_id, "beneficiary_ref": ref, "prescribed_on": (on or today()).isoformat()}
    answer = client.post(f"{API}/pathways", json=body, headers=world.admin)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _check_counters(world: World, convention_id: int) -> tuple[int, int, int]:
    with world.session() as session:
        stored = stored_seats(session).get(convention_id, (0, 0, 0))
        assert stored == recounted_seats(session).get(convention_id, (0, 0, 0))
        waiting = session.exec(
            select(Pathway.id).where(Pathway.convention_id == convention_id, Pathway.waitlisted).order_by(Pathway.id)
        ).all()
    occupied, reserved, waitlisted = stored
    assert occupied + reserved <= SEATS and len(waiting) == waitlisted
    if waitlisted:
        assert occupied + reserved == SEATS  # nobody waits while a seat is free
    return stored


def test_refusals_cancellations_withdrawals_and_prescriptions_at_once_keep_the_counters(world):
    convention_id = _convention(world)
    day = today().isoformat()
    with client_of(world) as client:
        pathways = [_prescribe(client, world, convention_id, f"C7-RACE-{convention_id}-{n}") for n in range(10)]
    assert [p["status"] for p in pathways] == ["prescribed"] * SEATS + ["waitlisted"] * (10 - SEATS)
    refusal = {"refused_on": day, "refusal_reason": "not_eligible"}

    def answer(step, pathway, body):
        return lambda client: client.post(f"{API}/pathways/{pathway['id']}/{step}", json=body, headers=world.operator)

    requests = [
        *(answer("refuse", pathway, refusal) for pathway in pathways[0:3]),  # three seats freed
        answer("cancel", pathways[3], {"cancel_reason": "moved"}),  # the fourth
        *(answer("refuse", pathway, refusal) for pathway in pathways[4:6]),  # two out of the queue
        answer("cancel", pathways[6], {"cancel_reason": "moved"}),
        *(
            lambda client, n=n: client.post(
                f"{API}/pathways",
                json={
                    "convention_id": convention_id,
                    "beneficiary_ref": f"C7-NEW-{convention_id}-{n}",
                    "prescribed_on": day,
                },
                headers=world.admin,
            )
            for n in range(3)
        ),
    ]
    answers = run_at_once(world.app, requests)
    assert all(a.status_code in (200, 201) for a in answers), [(a.status_code, a.text[:100]) for a in answers]
    # 7 ended; of the 6 left (3 waiting before, 3 new), the 4 seats go to the oldest waiting first.
    assert _check_counters(world, convention_id) == (0, SEATS, 2)
    with world.session() as session:
        promoted = session.exec(
            select(Pathway.id).where(Pathway.id.in_([p["id"] for p in pathways[7:]]), Pathway.waitlisted)
        ).all()
    assert promoted == []  # the three that waited before the race all got a seat


def test_expiry_runs_racing_refusals_expire_each_prescription_once(world):
    convention_id = _convention(world)
    long_ago = today() - timedelta(days=120)
    with client_of(world) as client:
        # Four old prescriptions hold the seats; four wait, two of them for too long.
        old = [_prescribe(client, world, convention_id, f"C7-OLD-{convention_id}-{n}", long_ago) for n in range(6)]
        recent = [_prescribe(client, world, convention_id, f"C7-RECENT-{convention_id}-{n}") for n in range(2)]
    assert [p["status"] for p in old] == ["prescribed"] * SEATS + ["waitlisted"] * 2
    day = today().isoformat()

    def expire(_client):
        with PdiSession(writer_engine(world.engine)) as session:
            counts = expire_prescriptions(session=session, today=today())
            session.commit()
        return counts

    def refuse(pathway):
        body = {"refused_on": day, "refusal_reason": "did_not_come"}
        return lambda client: client.post(f"{API}/pathways/{pathway['id']}/refuse", json=body, headers=world.operator)

    answers = run_at_once(world.app, [expire, expire, refuse(old[0]), refuse(recent[1])])
    runs, refusals = answers[:2], answers[2:]
    assert [a.status_code for a in refusals[1:]] == [200], refusals[1].text
    expired_by_runs = sum(run.prescribed + run.waitlisted for run in runs)
    # old[0] was refused, or expired first (then its refusal is a 409): each ends exactly once.
    assert refusals[0].status_code in (200, 409)
    assert expired_by_runs == (6 if refusals[0].status_code == 409 else 5)
    with world.session() as session:
        statuses = {
            pathway.id: pathway.status
            for pathway in session.exec(select(Pathway).where(Pathway.convention_id == convention_id)).all()
        }
    assert statuses[recent[0]["id"]] == "prescribed" and statuses[recent[1]["id"]] == "refused"
    assert sorted(statuses[p["id"]] for p in old).count("expired") == expired_by_runs
    _check_counters(world, convention_id)
