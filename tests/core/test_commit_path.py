"""Production's commit path (app/core/db.py: get_session and its siblings, request_session_async),
which the `client` fixture replaces by a transaction rolled back after each test: the main writes
are committed by the request that made them, every kind of failure leaves nothing behind, and a
commit that fails is the client's error answer, never a 2xx for a write that was not stored.

What is stored is read from the database itself on another connection (`committed.engine`'s own
pool), by table and column, so that only what a request committed can be seen."""

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from app.core import time as clock
from app.core.db import PdiSession
from tests import factories
from tests.helpers import assert_problem

API = "/api/v1"


@pytest.fixture
def client(committed) -> Iterator[TestClient]:
    """A client of the committing application (this module's, instead of the rolled-back one)."""
    with TestClient(committed.app, raise_server_exceptions=False) as client:
        yield client


def stored(committed, sql: str, **parameters):
    """The first row `sql` finds in the database, on a connection of its own."""
    with committed.engine.connect() as connection:
        return connection.execute(text(sql), parameters).first()


def count(committed, table: str) -> int:
    with committed.engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def created(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_the_main_writes_are_committed_by_their_requests(client, committed):
    admin = committed.admin

    family = created(client.post(f"{API}/families", json={"code": "commit-f", "name": "F"}, headers=admin))
    assert stored(committed, "SELECT name FROM family WHERE code = 'commit-f'") == ("F",)
    ok(client.patch(f"{API}/families/commit-f", json={"name": "F2"}, headers=admin))
    assert stored(committed, "SELECT name FROM family WHERE code = 'commit-f'") == ("F2",)

    action_body = {"code": "commit-a", "number": 900, "family": family["code"], "name": "A"}
    created(client.post(f"{API}/actions", json=action_body, headers=admin))
    ok(client.patch(f"{API}/actions/commit-a", json={"name": "A2"}, headers=admin))
    assert stored(committed, "SELECT name FROM action WHERE code = 'commit-a'") == ("A2",)
    points = {"points": ["Un point"]}
    created(client.put(f"{API}/actions/commit-a/assessments/2019", json=points, headers=admin))
    assert stored(
        committed,
        "SELECT points FROM action_assessment JOIN action ON action.id = action_id "
        "WHERE action.code = 'commit-a' AND year = 2019",
    )

    operator = created(client.post(f"{API}/operators", json={"name": "Opérateur commit"}, headers=admin))
    site = created(
        client.post(
            f"{API}/operators/{operator['id']}/sites", json={"name": "Antenne", "commune": "Sablé"}, headers=admin
        )
    )
    assert stored(committed, "SELECT operator_id FROM site WHERE id = :id", id=site["id"]) == (operator["id"],)

    convention_body = {
        "reference": "COMMIT-1",
        "action": "commit-a",
        "operator_id": operator["id"],
        "start_on": "2019-01-01",
        "end_on": "2020-12-31",
        "site_ids": [site["id"]],
        "years": [{"year": 2019, "places": 3}],
    }
    convention = created(client.post(f"{API}/conventions", json=convention_body, headers=admin))
    created(client.put(f"{API}/conventions/{convention['id']}/years/2020", json={"places": 4}, headers=admin))
    assert stored(
        committed, "SELECT places FROM convention_year WHERE convention_id = :id AND year = 2020", id=convention["id"]
    ) == (4,)

    operator_key = committed.key("operator", operator_id=operator["id"])
    pathways = []
    for ref in ("COMMIT-P1", "COMMIT-P2"):
        body = {"convention_id": convention["id"], "beneficiary_ref": ref, "prescribed_on": "2019-01-10"}
        pathways.append(created(client.post(f"{API}/pathways", json=body, headers=operator_key))["id"])
        ok(client.post(f"{API}/pathways/{pathways[-1]}/entry", json={"entered_on": "2019-02-01"}, headers=operator_key))
    exit_body = {"exited_on": "2019-06-01", "exit_reason": "training"}
    ok(client.post(f"{API}/pathways/{pathways[0]}/exit", json=exit_body, headers=operator_key))
    batch = [{"pathway_id": pathways[1], "exited_on": "2019-07-01", "exit_reason": "training"}]
    assert ok(client.post(f"{API}/exit-records", json=batch, headers=operator_key))["counts"]["created"] == 1
    for pathway_id, exited_on in zip(pathways, ("2019-06-01", "2019-07-01")):
        row = stored(committed, "SELECT entered_on, exited_on FROM pathway WHERE id = :id", id=pathway_id)
        assert [str(day) for day in row] == ["2019-02-01", exited_on]

    ok(client.post(f"{API}/periods/2018/consolidate", headers=admin))
    assert stored(committed, "SELECT status FROM period WHERE year = 2018") == ("consolidated",)

    # The change feed's rows are written at commit (app/outbox/capture.py): every write above is
    # in the feed, read back through the API.
    kinds, after = set(), 0
    while True:
        page = ok(client.get(f"{API}/changes", params={"after": after, "limit": 1000}, headers=admin))
        if not page["items"]:
            break
        kinds |= {item["kind"] for item in page["items"]}
        after = page["next"]
    assert {"family", "action", "operator", "site", "convention", "pathway"} <= kinds

    assert client.delete(f"{API}/families/commit-f", headers=admin).status_code == 409  # its action is there
    created(client.post(f"{API}/families", json={"code": "commit-gone", "name": "G"}, headers=admin))
    assert client.delete(f"{API}/families/commit-gone", headers=admin).status_code == 204
    assert stored(committed, "SELECT 1 FROM family WHERE code = 'commit-gone'") is None


def test_a_read_that_notes_an_audit_event_commits_it(client, committed):
    """A GET of personal data writes an audit event: its session has work to commit although the
    request only read (request_session_async's `_has_work`)."""
    with PdiSession(committed.engine) as session:
        pathway_id = factories.pathway(session, convention_id=factories.convention(session).id).id
        session.commit()
    before = count(committed, "audit_event")
    ok(client.get(f"{API}/pathways/{pathway_id}", headers=committed.admin))
    assert count(committed, "audit_event") == before + 1


def test_a_refused_write_stores_nothing(client, committed):
    admin = committed.admin
    before = count(committed, "family"), count(committed, "change")
    assert_problem(client.post(f"{API}/families", json={"code": "commit-bad"}, headers=admin), 422)
    assert_problem(client.patch(f"{API}/families/no-such-family", json={"name": "X"}, headers=admin), 404)
    created(client.post(f"{API}/families", json={"code": "commit-twice", "name": "T"}, headers=admin))
    after_one = count(committed, "family"), count(committed, "change")
    assert after_one[0] == before[0] + 1
    assert_problem(client.post(f"{API}/families", json={"code": "commit-twice", "name": "T"}, headers=admin), 409)
    assert (count(committed, "family"), count(committed, "change")) == after_one

    # A prescription that created its person, then found no free seat and was told to refuse:
    # neither the person nor the audit of its creation stays.
    today = clock.today()  # the service's day (Paris), whose year the seats are counted in
    with PdiSession(committed.engine) as session:
        full = factories.convention(
            session,
            start_on=today - timedelta(days=400),
            end_on=today + timedelta(days=400),
            years={today.year: {"places": 0}},
        )
        convention = factories.convention(session, years={2019: {"places": 5}})
        entered = [
            factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 2, 1)).id for _ in "ab"
        ]
        full_id, operator_id = full.id, convention.operator_id
        session.commit()
    before = count(committed, "beneficiary"), count(committed, "audit_event")
    body = {"convention_id": full_id, "beneficiary_ref": "COMMIT-NEW", "prescribed_on": str(today), "if_full": "refuse"}
    assert_problem(client.post(f"{API}/pathways", json=body, headers=admin), 409)
    assert (count(committed, "beneficiary"), count(committed, "audit_event")) == before

    # A batch that wrote its first item before refusing its second, all or nothing.
    items = [
        {"pathway_id": entered[0], "exited_on": "2019-06-30", "exit_reason": "training"},
        {"pathway_id": entered[1], "exited_on": "2019-06-30", "exit_reason": "fired"},
    ]
    refused = client.post(
        f"{API}/exit-records",
        params={"atomic": "true"},
        json=items,
        headers=committed.key("operator", operator_id=operator_id),
    )
    assert assert_problem(refused, 422)["counts"]["created"] == 1
    assert stored(committed, "SELECT exited_on FROM pathway WHERE id = :id", id=entered[0]) == (None,)


def test_a_commit_that_fails_answers_an_error_and_stores_nothing(client, committed):
    """The session is committed before the answer is sent (SessionDep's scope="function"): a
    commit that fails is the client's 5xx, never a 201 for a row that is not there."""

    def fail(_session):
        raise RuntimeError("the database refused the commit")

    event.listen(PdiSession, "before_commit", fail)
    try:
        response = client.post(f"{API}/families", json={"code": "commit-lost", "name": "L"}, headers=committed.admin)
    finally:
        event.remove(PdiSession, "before_commit", fail)
    assert response.status_code >= 500, response.text
    assert stored(committed, "SELECT 1 FROM family WHERE code = 'commit-lost'") is None
    # The next request is served, and commits.
    created(client.post(f"{API}/families", json={"code": "commit-lost", "name": "L"}, headers=committed.admin))
    assert stored(committed, "SELECT name FROM family WHERE code = 'commit-lost'") == ("L",)
