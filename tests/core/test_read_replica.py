"""PDI_READ_DATABASE_URL: GET /indicators and GET /bilan read the database it names (a replica);
every other read, the API key's included, goes to the primary.

The "replica" here is a second database of the run's kind holding data the primary does not: an
action of its own with one person present in 2019. So a figure can only come from where it was read.
"""

from collections.abc import Iterator
from datetime import date

import pytest
from alembic import command
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.core.db import PdiSession, get_session
from app.core.engines import get_read_engine, get_request_engine, make_engine
from app.core.migrate import alembic_config
from tests import factories
from tests.scratch import scratch_database

pytestmark = pytest.mark.slow

API = "/api/v1"
REPLICA_ONLY = "replica-only"


@pytest.fixture
def replica_url(tmp_path) -> Iterator[str]:
    with scratch_database(tmp_path, "pdi_replica") as url:
        command.upgrade(alembic_config(url), "head")
        engine = make_engine(url)
        with PdiSession(engine) as session:
            action = factories.action(session, code=REPLICA_ONLY, indicators=["persons_present"])
            convention = factories.convention(
                session, action_id=action.id, start_on=date(2019, 1, 1), end_on=date(2019, 12, 31), years={2019: {}}
            )
            factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 3, 1))
            session.commit()
        engine.dispose()
        yield url


@pytest.fixture
def reads_on_replica(replica_url, monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("PDI_READ_DATABASE_URL", replica_url)
    get_settings.cache_clear()
    get_read_engine.cache_clear()
    yield
    get_read_engine().dispose()
    monkeypatch.delenv("PDI_READ_DATABASE_URL")
    get_settings.cache_clear()
    get_read_engine.cache_clear()


@pytest.fixture
def replica_client(app, session, reads_on_replica) -> Iterator[TestClient]:
    """The app as deployed with a replica, except that the primary is the test's transaction."""

    def primary_session():
        yield session

    app.dependency_overrides[get_session] = primary_session
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.dependency_overrides.clear()


def test_indicators_and_the_bilan_read_the_replica(replica_client, reader):
    asked = {"year": 2019, "action": REPLICA_ONLY, "indicators": "persons_present"}
    indicators = replica_client.get(f"{API}/indicators", params=asked, headers=reader)
    assert indicators.status_code == 200, indicators.text
    assert indicators.json()["rows"][0]["values"] == {"persons_present": 1}

    bilan = replica_client.get(
        f"{API}/bilan", params={"years": "2019", "as_of": "2019-12-31", "action": REPLICA_ONLY}, headers=reader
    )
    assert bilan.status_code == 200, bilan.text
    [family] = bilan.json()["families"]
    [action] = family["actions"]
    assert action["code"] == REPLICA_ONLY
    assert action["table"] == [
        {"indicator": "persons_present", "label": "Nombre de personnes présentes", "values": {"2019": 1}}
    ]


def test_other_routes_and_the_key_read_the_primary(replica_client, reader):
    # The key exists on the primary only (the replica_client's reader key would be a 401 otherwise).
    assert replica_client.get(f"{API}/actions/{REPLICA_ONLY}", headers=reader).status_code == 404
    assert replica_client.get(f"{API}/indicators", params={"year": 2019}, headers=reader).status_code == 200


def test_without_a_replica_the_reads_go_to_the_primary(monkeypatch):
    monkeypatch.delenv("PDI_READ_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    get_read_engine.cache_clear()
    try:
        assert get_read_engine() is get_request_engine()
    finally:
        get_settings.cache_clear()
        get_read_engine.cache_clear()
