"""Two clients at once, on PostgreSQL with real commits (the rolled-back `session` fixture cannot
show a race): the app runs with its own get_session, and the rows the test commits are deleted
at the end."""

import threading
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import select

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, Role
from app.auth.service import create_key
from app.catalogue.models import Action, Family, Operator
from app.conventions.models import Convention
from app.core.db import PdiSession
from app.main import create_app
from app.outbox.models import Change
from app.pathways.models import Beneficiary, Pathway
from tests import factories
from tests.pathways.helpers import API, pathway_body

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def committed(engine):
    """An operator, its convention and key, committed; everything the test adds under them is
    deleted afterwards."""
    with PdiSession(engine, expire_on_commit=False) as session:
        convention = factories.convention(session)
        key_row, key = create_key(
            session=session, role=Role.operator, name="race test", operator_id=convention.operator_id
        )
        session.commit()
    yield convention, {"Authorization": f"Bearer {key}"}
    with PdiSession(engine) as session:
        # A test's clean-up, not a write the feed should tell: statements on the connection.
        raw = session.connection().execute
        pathway_ids = select(Pathway.id).where(Pathway.convention_id == convention.id)
        beneficiary_ids = list(
            session.exec(select(Pathway.beneficiary_id).where(Pathway.convention_id == convention.id))
        )
        raw(delete(AuditEvent).where(AuditEvent.api_key_id == key_row.id))
        raw(delete(Change).where(Change.kind == "pathway"))
        raw(delete(Pathway).where(Pathway.id.in_(pathway_ids)))
        raw(delete(Beneficiary).where(Beneficiary.id.in_(beneficiary_ids)))
        raw(delete(ApiKey).where(ApiKey.id == key_row.id))
        action = session.get(Action, convention.action_id)
        raw(delete(Convention).where(Convention.id == convention.id))
        raw(delete(Operator).where(Operator.id == convention.operator_id))
        raw(delete(Action).where(Action.id == action.id))
        raw(delete(Family).where(Family.id == action.family_id))
        session.commit()


def run_at_once(requests: list) -> list:
    """Send each request (a function of a TestClient) from its own thread, all released together."""
    app = create_app()
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def run(index, request):
        with TestClient(app, raise_server_exceptions=False) as client:
            barrier.wait()
            answers[index] = request(client)

    threads = [threading.Thread(target=run, args=(i, request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("known_person", [False, True], ids=["new person", "known person"])
def test_the_same_prescription_posted_at_once_is_stored_once(committed, engine, known_person):
    convention, headers = committed
    body = pathway_body(convention.id, "RACE-1")
    if known_person:  # already stored (e.g. from another convention): only the row lock can serialise
        with PdiSession(engine) as session:
            factories.pathway(
                session,
                convention_id=convention.id,
                prescribed_on=date(2018, 1, 1),
                beneficiary_id=factories.beneficiary(session, ref="RACE-1").id,
                cancelled_on=date(2018, 1, 2),
                cancel_reason="test",
            )
            session.commit()
    answers = run_at_once([lambda c: c.post(f"{API}/pathways", json=body, headers=headers)] * 4)
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    with PdiSession(engine) as session:
        stored = session.exec(
            select(Pathway).where(Pathway.convention_id == convention.id, Pathway.cancelled_on.is_(None))
        ).all()
        assert len(stored) == 1


def test_the_same_batch_posted_twice_at_once_stores_each_exit_once(committed, engine):
    convention, headers = committed
    with PdiSession(engine) as session:
        ids = [
            factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 2, 1)).id for _ in range(30)
        ]
        session.commit()
    batch = [{"pathway_id": pathway_id, "exited_on": "2019-06-30", "exit_reason": "training"} for pathway_id in ids]
    answers = run_at_once([lambda c: c.post(f"{API}/exit-records", json=batch, headers=headers)] * 2)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    counts = [a.json()["counts"] for a in answers]
    assert sum(c["created"] for c in counts) == len(ids)
    assert sum(c["unchanged"] for c in counts) == len(ids)
    assert sum(c["error"] for c in counts) == 0
    with PdiSession(engine) as session:
        batches = session.exec(
            select(AuditEvent.fields).where(
                AuditEvent.entity == "exit_records",
                AuditEvent.api_key_id.in_(select(ApiKey.id).where(ApiKey.name == "race test")),
            )
        ).all()
        written = [name for fields in batches for name in fields]
        assert sorted(written) == sorted(f"pathway:{i}" for i in ids)  # one exit written per pathway
        stored = session.exec(select(Pathway.exited_on).where(Pathway.id.in_(ids))).all()
        assert stored == [date(2019, 6, 30)] * len(ids)
