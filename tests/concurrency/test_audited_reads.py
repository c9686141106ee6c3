"""Audited reads under concurrency, on both databases: a GET of pathways writes its audit event,
and on SQLite a transaction that read first could not wait for the write lock. Readers and
writers at once all succeed, and every read is noted once."""

import itertools

import pytest
from sqlmodel import func, select

from app.audit.models import AuditEvent
from tests.concurrency.conftest import client_of, run_at_once

pytestmark = pytest.mark.slow

API = "/api/v1"
_refs = itertools.count(1)


def test_readers_and_writers_of_pathways_at_once_all_succeed_and_every_read_is_noted(world):
    with client_of(world) as client:
        created = client.post(
            f"{API}/pathways",
            json={"convention_id": world.convention_id, "beneficiary_ref": "AUDREAD-0", "prescribed_on": "2024-03-01"},
            headers=world.operator,
        )
        assert created.status_code == 201, created.text
    pathway_id = created.json()["id"]
    with world.session() as session:
        reads_before = session.exec(select(func.count()).where(AuditEvent.action.in_(["list", "read"]))).one()

    def list_them(client):
        return client.get(f"{API}/pathways", params={"convention": world.convention_id}, headers=world.operator)

    def read_one(client):
        return client.get(f"{API}/pathways/{pathway_id}", headers=world.admin)

    def write_one(client, ref):
        body = {"convention_id": world.convention_id, "beneficiary_ref": ref, "prescribed_on": "2024-03-02"}
        return client.post(f"{API}/pathways", json=body, headers=world.operator)

    requests = [list_them] * 4 + [read_one] * 4
    requests += [lambda client, ref=f"AUDREAD-{next(_refs)}": write_one(client, ref) for _ in range(4)]
    answers = run_at_once(world.app, requests)

    assert [answer.status_code for answer in answers] == [200] * 8 + [201] * 4, [a.text for a in answers]
    with world.session() as session:
        reads = session.exec(select(func.count()).where(AuditEvent.action.in_(["list", "read"]))).one()
    assert reads - reads_before == 8
