"""SPEC C1: a write that waits on another waits a bounded time, then answers 503 with Retry-After
(or 409 for crossed transactions), never a 500, on either database."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.core.engines import make_engine, writer_engine
from app.core.errors import database_fault
from tests.concurrency.conftest import World, app_on

pytestmark = pytest.mark.slow

API = "/api/v1"


def test_a_write_that_waits_too_long_is_a_503_with_retry_after(world: World):
    """Another transaction holds what the request needs (SQLite: the database's write lock;
    PostgreSQL: the family's row) longer than the service waits."""
    impatient = make_engine(str(world.engine.url.render_as_string(hide_password=False)), lock_timeout_ms=200)
    app = app_on(impatient)
    url = f"{API}/families/{world.family_code}"
    with writer_engine(world.engine).connect() as blocker:
        with blocker.begin():
            blocker.execute(
                text("UPDATE family SET position = position WHERE code = :code"), {"code": world.family_code}
            )
            with TestClient(app, raise_server_exceptions=False) as client:
                answer = client.patch(url, json={"name": "Bloquée"}, headers=world.admin)
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["Retry-After"]) >= 1
    with TestClient(app, raise_server_exceptions=False) as client:  # once the lock is gone, it goes through
        assert client.patch(url, json={"name": "Débloquée"}, headers=world.admin).status_code == 200
    impatient.dispose()


def _driver_error(sqlstate: str | None, message: str = "") -> OperationalError:
    orig = Exception(message)
    if sqlstate is not None:
        orig.sqlstate = sqlstate
    return OperationalError("statement", {}, orig)


@pytest.mark.parametrize(
    ("sqlstate", "message", "status"),
    [
        ("40P01", "deadlock detected", 409),
        ("40001", "could not serialize access", 409),
        ("55P03", "canceling statement due to lock timeout", 503),
        ("57P01", "terminating connection due to administrator command", 503),
        ("08006", "connection failure", 503),
        (None, "database is locked", 503),
    ],
)
def test_database_faults_map_to_problems_a_client_can_retry(sqlstate, message, status):
    """The one mapping the error handler uses, for the faults a live test cannot cause on demand
    (a deadlock, a serialisation failure)."""
    problem = database_fault(_driver_error(sqlstate, message))
    assert problem is not None and problem.status == status
    assert problem.headers["Retry-After"]


def test_a_bug_stays_a_500():
    """A driver error that is no fault of the database (here: SQLite's "no such table") is a bug."""
    assert database_fault(_driver_error(None, "no such table: nowhere")) is None
    assert database_fault(_driver_error("42P01", "relation does not exist")) is None
