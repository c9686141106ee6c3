"""SPEC C1 on both databases: writers at once succeed, `If-Match` lets exactly one of N through,
and a consolidation is atomic with the writes in flight on its year."""

import itertools
from collections import Counter
from datetime import date

import pytest
from sqlmodel import func, select

from app.catalogue.models import Action
from app.core.time import today
from app.pathways.models import Pathway
from app.periods.models import Period
from tests import factories
from tests.concurrency.conftest import World, client_of, run_at_once
from tests.pathways.helpers import recounted_seats, stored_seats

pytestmark = pytest.mark.slow

API = "/api/v1"
WRITERS = 8
_refs = itertools.count(1)


def new_ref() -> str:
    return f"CONC-{next(_refs)}"


def prescription(world: World, *, ref: str, on: str = "2024-03-01") -> dict:
    return {"convention_id": world.convention_id, "beneficiary_ref": ref, "prescribed_on": on}


def test_writers_at_once_all_succeed(world):
    """Eight operators' scripts creating pathways at the same moment: all 201, all stored (on
    SQLite too, where writers queue for the database's one write lock)."""
    refs = [new_ref() for _ in range(WRITERS)]
    answers = run_at_once(
        world.app,
        [
            lambda client, ref=ref: client.post(
                f"{API}/pathways", json=prescription(world, ref=ref), headers=world.operator
            )
            for ref in refs
        ],
    )
    assert [answer.status_code for answer in answers] == [201] * WRITERS, [a.text for a in answers]
    ids = [answer.json()["id"] for answer in answers]
    with world.session() as session:
        assert session.exec(select(func.count()).where(Pathway.id.in_(ids))).one() == WRITERS


def test_catalogue_writers_at_once_all_succeed(world):
    codes = [f"conc-family-{next(_refs)}" for _ in range(WRITERS)]
    answers = run_at_once(
        world.app,
        [
            lambda client, code=code: client.post(
                f"{API}/families", json={"code": code, "name": code}, headers=world.admin
            )
            for code in codes
        ],
    )
    assert [answer.status_code for answer in answers] == [201] * WRITERS, [a.text for a in answers]
    with client_of(world) as client:
        assert {client.get(f"{API}/families/{code}").status_code for code in codes} == {200}


# --- If-Match under concurrency ------------------------------------------------------------------


def _family(world: World) -> tuple[str, list[dict]]:
    return f"{API}/families/{world.family_code}", [{"name": f"Famille {i}"} for i in range(WRITERS)]


def _action(world: World) -> tuple[str, list[dict]]:
    return f"{API}/actions/{world.action_code}", [{"name": f"Action {i}"} for i in range(WRITERS)]


def _operator(world: World) -> tuple[str, list[dict]]:
    return f"{API}/operators/{world.operator_id}", [{"name": f"Opérateur {i}"} for i in range(WRITERS)]


def _convention(world: World) -> tuple[str, list[dict]]:
    return f"{API}/conventions/{world.convention_id}", [{"reference": f"CONC-REF-{i}"} for i in range(WRITERS)]


def _pathway(world: World) -> tuple[str, list[dict]]:
    with client_of(world) as client:
        response = client.post(f"{API}/pathways", json=prescription(world, ref=new_ref()), headers=world.admin)
        assert response.status_code == 201, response.text
    return f"{API}/pathways/{response.json()['id']}", [
        {"planned_end_on": f"2024-07-{i + 1:02d}"} for i in range(WRITERS)
    ]


EDITABLE = {
    "family": _family,
    "action": _action,
    "operator": _operator,
    "convention": _convention,
    "pathway": _pathway,
}


@pytest.mark.parametrize("resource", EDITABLE)
def test_if_match_lets_exactly_one_of_concurrent_writers_through(world, resource):
    url, bodies = EDITABLE[resource](world)
    with client_of(world) as client:
        etag = client.get(url, headers=world.admin).headers["ETag"]
    answers = run_at_once(
        world.app,
        [
            lambda client, body=body: client.patch(url, json=body, headers=world.admin | {"If-Match": etag})
            for body in bodies
        ],
    )
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 1, 412: WRITERS - 1}, [a.text for a in answers]
    winner = bodies[[answer.status_code for answer in answers].index(200)]
    with client_of(world) as client:
        stored = client.get(url, headers=world.admin).json()
    assert {name: stored[name] for name in winner} == winner  # the one 200 is what is stored


def test_if_match_on_a_convention_year_lets_exactly_one_through(world):
    url = f"{API}/conventions/{world.convention_id}"
    with client_of(world) as client:
        etag = client.get(url, headers=world.admin).headers["ETag"]
    answers = run_at_once(
        world.app,
        [
            lambda client, places=places: client.put(
                f"{url}/years/2025", json={"places": places}, headers=world.admin | {"If-Match": etag}
            )
            for places in range(10, 10 + WRITERS)
        ],
    )
    statuses = [answer.status_code for answer in answers]
    assert Counter(statuses) == {200: 1, 412: WRITERS - 1}, [a.text for a in answers]
    with client_of(world) as client:
        years = {line["year"]: line for line in client.get(url, headers=world.admin).json()["years"]}
    assert years[2025]["places"] == 10 + statuses.index(200)


# --- consolidation against the writes in flight --------------------------------------------------


def _pathways_dated_in(world: World, year: int) -> int:
    with world.session() as session:
        return session.exec(
            select(func.count()).where(
                Pathway.convention_id == world.convention_id,
                Pathway.prescribed_on >= date(year, 1, 1),
                Pathway.prescribed_on <= date(year, 12, 31),
            )
        ).one()


@pytest.mark.parametrize("year", [2021, 2022])
def test_no_write_commits_in_a_year_after_its_consolidation_answered(world, year):
    """12 prescriptions dated in `year` and its consolidation, all at once. Whatever the order the
    database picks, a prescription either committed before the consolidation (201) or is refused
    (409): what is stored when the consolidation answers is what stays."""
    stored_when_consolidated: list[int] = []

    def consolidate(client):
        answer = client.post(f"{API}/periods/{year}/consolidate", headers=world.admin)
        stored_when_consolidated.append(_pathways_dated_in(world, year))
        return answer

    writers = [
        lambda client, ref=ref: client.post(
            f"{API}/pathways", json=prescription(world, ref=ref, on=f"{year}-06-01"), headers=world.operator
        )
        for ref in (new_ref() for _ in range(12))
    ]
    before = _pathways_dated_in(world, year)
    answers = run_at_once(world.app, [*writers[:6], consolidate, *writers[6:]])
    consolidation, prescriptions = answers[6], answers[:6] + answers[7:]

    assert consolidation.status_code == 200, consolidation.text
    statuses = Counter(answer.status_code for answer in prescriptions)
    assert set(statuses) <= {201, 409}, [a.text for a in prescriptions]
    assert all(a.json()["type"].endswith("/period-consolidated") for a in prescriptions if a.status_code == 409)
    final = _pathways_dated_in(world, year)
    assert final == stored_when_consolidated[0]  # nothing committed after the 200
    assert final - before == statuses[201]  # every 201 is stored
    with world.session() as session:
        assert session.get(Period, year).status == "consolidated"


def test_batches_naming_the_same_pathways_in_opposite_orders_store_each_exit_once(world):
    """Two operators' scripts sending the same exits at once, one list reversed: locks are taken
    in id order, so neither waits on the other in a cycle (no deadlock, no 409 to resend)."""
    with client_of(world) as client:
        ids = []
        for _ in range(40):
            answer = client.post(
                f"{API}/pathways",
                json=prescription(world, ref=new_ref(), on="2024-02-01") | {"entered_on": "2024-02-05"},
                headers=world.admin,
            )
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    batch = [{"pathway_id": pathway_id, "exited_on": "2024-06-30", "exit_reason": "training"} for pathway_id in ids]
    answers = run_at_once(
        world.app,
        [
            lambda client: client.post(f"{API}/exit-records", json=batch, headers=world.operator),
            lambda client: client.post(f"{API}/exit-records", json=batch[::-1], headers=world.operator),
        ],
    )
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    counts = [answer.json()["counts"] for answer in answers]
    assert sum(c["created"] for c in counts) == len(ids)
    assert sum(c["unchanged"] for c in counts) == len(ids)
    assert sum(c["error"] for c in counts) == 0
    with world.session() as session:
        stored = session.exec(select(Pathway.exited_on).where(Pathway.id.in_(ids))).all()
    assert stored == [date(2024, 6, 30)] * len(ids)


@pytest.mark.parametrize("seats", [1, 3])
def test_concurrent_prescriptions_take_exactly_the_free_seats(world, seats):
    """Ten portal prescriptions at once on a convention with `seats` free seats: exactly that many
    are `prescribed`, the others wait in line, and availability never shows an overbooking."""
    this_year = today().year
    with world.session() as session:
        convention = factories.convention(
            session,
            action_id=session.exec(select(Action.id).where(Action.code == world.action_code)).one(),
            operator_id=world.operator_id,
            start_on=date(this_year - 1, 1, 1),
            end_on=date(this_year + 1, 12, 31),
            years={this_year: {"places": seats}},
        )
        session.commit()
    body = {"convention_id": convention.id, "prescribed_on": today().isoformat()}
    answers = run_at_once(
        world.app,
        [
            lambda client, ref=ref: client.post(
                f"{API}/pathways", json=body | {"beneficiary_ref": ref}, headers=world.operator
            )
            for ref in (new_ref() for _ in range(10))
        ],
    )
    assert [answer.status_code for answer in answers] == [201] * 10, [a.text for a in answers]
    assert Counter(answer.json()["status"] for answer in answers) == {"prescribed": seats, "waitlisted": 10 - seats}
    positions = sorted(a.json()["waitlist_position"] for a in answers if a.json()["status"] == "waitlisted")
    assert positions == list(range(1, 10 - seats + 1))
    with client_of(world) as client:
        items = client.get(f"{API}/availability", params={"action": world.action_code}).json()["items"]
    item = next(item for item in items if item["convention_id"] == convention.id)
    assert (item["reserved"], item["waitlisted"], item["available"]) == (seats, 10 - seats, 0)


def test_mixed_writers_on_two_conventions_keep_the_seat_counters(world):
    """Prescriptions, entries, cancellations and exit batches spanning two conventions (in opposite
    orders), all at once: every write lands (no deadlock between the counters' row locks, no lost
    increment), and the counters the database keeps equal a count of the pathways."""
    this_year = today().year
    with world.session() as session:
        conventions = [
            factories.convention(
                session,
                action_id=session.exec(select(Action.id).where(Action.code == world.action_code)).one(),
                operator_id=world.operator_id,
                start_on=date(this_year - 1, 1, 1),
                end_on=date(this_year + 1, 12, 31),
                years={this_year: {"places": 4}},
            ).id
            for _ in range(2)
        ]
        session.commit()
    day = today().isoformat()

    def prescribe(client, convention_id, **extra):
        body = {"convention_id": convention_id, "beneficiary_ref": new_ref(), "prescribed_on": day, **extra}
        answer = client.post(f"{API}/pathways", json=body, headers=world.admin)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    with client_of(world) as client:
        entered = {cid: [prescribe(client, cid, entered_on=day) for _ in range(3)] for cid in conventions}
        pending = {cid: [prescribe(client, cid) for _ in range(2)] for cid in conventions}

    def exits(ids):
        return [{"pathway_id": pathway_id, "exited_on": day, "exit_reason": "training"} for pathway_id in ids]

    first, second = conventions
    requests = [
        lambda client: client.post(
            f"{API}/exit-records", json=exits(entered[first] + entered[second]), headers=world.admin
        ),
        lambda client: client.post(
            f"{API}/exit-records", json=exits(entered[second][::-1] + entered[first][::-1]), headers=world.admin
        ),
        *(
            lambda client, pathway_id=pathway_id: client.post(
                f"{API}/pathways/{pathway_id}/cancel", json={"cancel_reason": "moved"}, headers=world.admin
            )
            for pathway_id in pending[first] + pending[second]
        ),
        *(
            lambda client, convention_id=convention_id: client.post(
                f"{API}/pathways",
                json={"convention_id": convention_id, "beneficiary_ref": new_ref(), "prescribed_on": day},
                headers=world.admin,
            )
            for convention_id in conventions * 4
        ),
    ]
    answers = run_at_once(world.app, requests)
    assert all(answer.status_code in (200, 201) for answer in answers), [
        (i, a.status_code, a.text[:80]) for i, a in enumerate(answers) if a.status_code not in (200, 201)
    ]
    with world.session() as session:
        recounted = recounted_seats(session)
        assert {cid: stored_seats(session).get(cid) for cid in conventions} == {
            cid: recounted.get(cid) for cid in conventions
        }
        # 6 exited, 4 cancelled; 8 new prescriptions on 8 seats (4 a convention, none taken now).
        assert [recounted[cid] for cid in conventions] == [(0, 4, 0), (0, 4, 0)]


def test_if_match_on_an_assessment_lets_exactly_one_through(world):
    url = f"{API}/actions/{world.action_code}/assessments/2024"
    with client_of(world) as client:
        created = client.put(url, json={"points": ["Première version"]}, headers=world.admin)
        assert created.status_code == 201, created.text
        etag = created.headers["ETag"]
    answers = run_at_once(
        world.app,
        [
            lambda client, i=i: client.put(
                url, json={"points": [f"Version {i}"]}, headers=world.admin | {"If-Match": etag}
            )
            for i in range(WRITERS)
        ],
    )
    statuses = [answer.status_code for answer in answers]
    assert Counter(statuses) == {200: 1, 412: WRITERS - 1}, [a.text for a in answers]
    with client_of(world) as client:
        stored = client.get(url, headers=world.admin).json()
        assert stored["points"] == [f"Version {statuses.index(200)}"]
        assert client.delete(url, headers=world.admin).status_code == 204
