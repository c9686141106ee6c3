"""The database out of resources (issue 22): SQLite's SQLITE_FULL ("database or disk is full",
made real with PRAGMA max_page_count) and PostgreSQL's SQLSTATE class 53 ("too many connections",
made real with a role allowed none) answer 503 with Retry-After, store nothing half-written, and
/readyz says so."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text

from app.catalogue.models import Family
from app.core.engines import make_engine
from tests.concurrency.conftest import app_on

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def forget_the_fault():
    """/readyz remembers a class 53 error for 30 s: the tests after these must not inherit it."""
    yield
    from app.core import errors

    errors._resources_exhausted_at.clear()


def _family_count(world) -> int:
    with world.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(Family)).scalar_one()


@pytest.mark.sqlite_only
def test_a_full_sqlite_database_answers_503_and_stores_nothing_half_written(world):
    with world.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    full = make_engine(world.engine.url.render_as_string(hide_password=False))

    @event.listens_for(full, "connect")
    def cap(dbapi_connection, _record):  # a disk with room for a few more pages only
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 3}")

    app = app_on(full)
    before = _family_count(world)
    created, refused = 0, None
    description = "x" * 4000
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        for index in range(200):
            response = client.post(
                "/api/v1/families",
                json={"code": f"full-{uuid.uuid4().hex[:8]}", "name": f"F {index}", "description": description},
                headers=world.admin,
            )
            if response.status_code != 201:
                refused = response
                break
            created += 1
        assert refused is not None, "the capped database never filled"
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/database-resources-exhausted")
        assert int(refused.headers["Retry-After"]) >= 1
        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "full" in ready.json()["detail"]
        assert client.get("/api/v1/families").status_code == 200  # reads still answer
    assert _family_count(world) == before + created  # every 201 stored, the refused one not at all
    full.dispose()
    with TestClient(app_on(world.engine)) as client:  # room again
        assert client.get("/readyz").status_code == 200


@pytest.mark.postgres_only
def test_postgresql_out_of_connections_answers_503(world):
    role = f"pdi_no_room_{uuid.uuid4().hex[:8]}"
    with world.engine.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
        connection.commit()
    limited = make_engine(world.engine.url.set(username=role, password=None).render_as_string(hide_password=False))
    try:
        with TestClient(app_on(limited), raise_server_exceptions=False) as client:
            response = client.get("/api/v1/families")
            assert response.status_code == 503, response.text
            assert response.json()["type"].endswith("/database-resources-exhausted")
            assert int(response.headers["Retry-After"]) >= 1
            assert client.get("/readyz").status_code == 503
    finally:
        limited.dispose()
        with world.engine.connect() as connection:
            connection.execute(text(f"DROP ROLE {role}"))
            connection.commit()


@pytest.mark.parametrize("sqlstate", ["53100", "53200", "53300", "53400"])
def test_every_class_53_sqlstate_is_a_503(sqlstate):
    """disk_full, out_of_memory, too_many_connections, configuration_limit_exceeded: as PostgreSQL
    reports them on a running connection (with their SQLSTATE)."""
    from sqlalchemy.exc import OperationalError

    from app.core.errors import ResourcesExhausted, database_fault

    class DriverError(Exception):
        def __init__(self):
            super().__init__("could not extend file")
            self.sqlstate = sqlstate

    error = database_fault(OperationalError("INSERT …", {}, DriverError()))
    assert isinstance(error, ResourcesExhausted)
    assert error.status == 503 and int(error.headers["Retry-After"]) >= 1
