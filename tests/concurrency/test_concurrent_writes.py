"""SPEC C1 on both databases: writers at once succeed, `If-Match` lets exactly one of N through,
and a consolidation is atomic with the writes in flight on its year."""

import itertools
from collections import Counter
from datetime import date

import pytest
from sqlmodel import func, select

from app.pathways.models import Pathway
from app.periods.models import Period
from tests.concurrency.conftest import World, client_of, run_at_once

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
