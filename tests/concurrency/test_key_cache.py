"""API keys checked from the worker's memory (app/auth/key_cache.py): a key known valid is served
without a lookup, availability included (from the page cache), and stops being served at once
when it is revoked, rotated away or expires. These need real commits, and on PostgreSQL the
notices of another process: the concurrency tests' database of their own (`world`)."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.auth import dependencies, key_cache
from app.auth import service as keys_service
from app.auth.models import ApiKey, Role
from app.auth.service import create_key, revoke_key, rotate_key
from app.core import time as clock
from app.core.time import utcnow
from tests.concurrency.conftest import World, app_on
from tests.concurrency.test_availability_cache import DAY, URL, cached_app, route_calls, wait_until, watch_of
from tests.conftest import IS_POSTGRES

pytestmark = pytest.mark.slow

__all__ = ["route_calls"]  # the fixture, shared with the availability cache's tests

postgres_only = pytest.mark.skipif(not IS_POSTGRES, reason="other processes' revocations are heard by LISTEN/NOTIFY")
FAMILIES = "/api/v1/families"


def new_key(world: World, role: Role = Role.portal, **fields) -> tuple[int, dict[str, str]]:
    with world.session() as session:
        row, key = create_key(session=session, role=role, name="cache test")
        for name, value in fields.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()
        return row.id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Each time a key is looked up in the database (rather than found in the key cache)."""
    calls: list[str] = []
    look_up = dependencies.lookup_key

    def counted(**arguments):
        calls.append(arguments["key_hash"])
        return look_up(**arguments)

    monkeypatch.setattr(dependencies, "lookup_key", counted)
    return calls


@pytest.fixture
def elsewhere(monkeypatch):
    """Revocations and rotations made as by another process (`pdi keys revoke`, another worker):
    this process's caches are not cleared by the commit, only by what reaches them."""
    monkeypatch.setattr(keys_service, "clear_every_cache", lambda: None)


def test_a_known_key_is_not_looked_up_again_and_a_revocation_here_refuses_it_at_once(world, lookups):
    key_id, headers = new_key(world)
    with TestClient(app_on(world.engine)) as client:
        assert [client.get(FAMILIES, headers=headers).status_code for _ in range(3)] == [200] * 3
        assert len(lookups) == 1
        with world.session() as session:
            revoke_key(session=session, key_id=key_id)
            session.commit()
        assert client.get(FAMILIES, headers=headers).status_code == 401
        assert client.get(FAMILIES, headers=headers).status_code == 401
    assert len(lookups) == 3  # failures are never kept: each one asks the database


def test_a_cached_key_is_refused_once_it_expires(world, monkeypatch):
    _key_id, headers = new_key(world, expires_at=utcnow() + timedelta(hours=1))
    with TestClient(app_on(world.engine)) as client:
        assert client.get(FAMILIES, headers=headers).status_code == 200
        later = utcnow() + timedelta(hours=1, seconds=1)
        monkeypatch.setattr(dependencies, "utcnow", lambda: later)
        assert client.get(FAMILIES, headers=headers).status_code == 401


def test_without_notices_a_revocation_elsewhere_is_seen_after_the_ttl(world, lookups, elsewhere, monkeypatch):
    """SQLite, or no watch: an entry is served TTL_SECONDS after its lookup, no longer."""
    key_id, headers = new_key(world)
    with TestClient(app_on(world.engine)) as client:
        assert client.get(FAMILIES, headers=headers).status_code == 200
        with world.session() as session:
            revoke_key(session=session, key_id=key_id)
            session.commit()
        # Within the bound, the worker that kept the key still serves it: what the TTL is for.
        assert client.get(FAMILIES, headers=headers).status_code == 200
        assert len(lookups) == 1
        monkeypatch.setattr(key_cache, "TTL_SECONDS", 0.0)  # the bound has passed
        assert client.get(FAMILIES, headers=headers).status_code == 401
    assert len(lookups) == 2


@postgres_only
def test_a_revocation_in_another_process_reaches_a_worker_that_kept_the_key(world, lookups, elsewhere):
    key_id, headers = new_key(world)
    app = cached_app(world)
    watch, keys = watch_of(app), app.state.key_cache
    with TestClient(app) as client:
        wait_until(lambda: watch.current is not None)
        assert client.get(FAMILIES, headers=headers).status_code == 200
        assert keys.entries
        generation = keys.generation
        with world.session() as session:
            revoke_key(session=session, key_id=key_id)
            session.commit()
        wait_until(lambda: keys.generation > generation)  # the notice, heard by the watch
        assert client.get(FAMILIES, headers=headers).status_code == 401


@postgres_only
def test_a_rotation_in_another_process_ends_the_old_key_as_it_says(world, elsewhere):
    old_id, old_headers = new_key(world)
    app = cached_app(world)
    watch, keys = watch_of(app), app.state.key_cache
    with TestClient(app) as client:
        wait_until(lambda: watch.current is not None)
        assert client.get(FAMILIES, headers=old_headers).status_code == 200
        generation = keys.generation
        with world.session() as session:
            _old, new_row, new_key_text = rotate_key(session=session, key_id=old_id, grace_days=7)
            session.commit()
        wait_until(lambda: keys.generation > generation)
        # A grace period: the old key still works, and its holder now owns both generations.
        assert client.get(FAMILIES, headers=old_headers).status_code == 200
        [caller] = [entry.caller for entry in keys.entries.values() if entry.caller.key_id == old_id]
        assert set(caller.own_key_ids) == {old_id, new_row.id}
        generation = keys.generation
        with world.session() as session:
            rotate_key(session=session, key_id=new_row.id, grace_days=0)
            session.commit()
        wait_until(lambda: keys.generation > generation)
        new_headers = {"Authorization": f"Bearer {new_key_text}"}
        assert client.get(FAMILIES, headers=new_headers).status_code == 401  # no grace: refused at once
        assert client.get(FAMILIES, headers=old_headers).status_code == 200  # still in its own week


@postgres_only
def test_keyed_availability_from_memory_spends_the_keys_budget_and_notes_its_use(world, route_calls, monkeypatch):
    key_id, headers = new_key(world)
    app = cached_app(world, rate_limit_key="4/minute")
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.current is not None)
        first = client.get(URL, params=DAY, headers=headers)
        assert first.status_code == 200
        assert len(route_calls) == 1  # the route checked the key, kept it, built the page
        later = utcnow() + timedelta(minutes=5)
        monkeypatch.setattr(clock, "utcnow", lambda: later)
        again = client.get(URL, params=DAY, headers=headers)
        revalidated = client.get(URL, params=DAY, headers=headers | {"If-None-Match": first.headers["ETag"]})
        assert (again.status_code, again.content) == (200, first.content)
        assert revalidated.status_code == 304
        assert len(route_calls) == 1  # both from memory
        over = client.get(URL, params=DAY, headers=headers)
        assert over.status_code == 200  # the fourth call of the budget
        refused = client.get(URL, params=DAY, headers=headers)
        assert refused.status_code == 429  # the route's answer: memory let it through
        assert refused.headers["content-type"] == "application/problem+json"
        # The last use noted from memory, written by the watch's thread.

        def last_used():
            with world.session() as session:
                return session.exec(select(ApiKey.last_used_at).where(ApiKey.id == key_id)).one()

        wait_until(lambda: last_used() is not None and last_used() >= later - timedelta(seconds=1))


@postgres_only
def test_an_invalid_key_is_never_served_from_memory(world, route_calls):
    app = cached_app(world)
    watch = watch_of(app)
    with TestClient(app) as client:
        wait_until(lambda: watch.current is not None)
        assert client.get(URL, params=DAY).status_code == 200  # the page is in memory
        for authorization in ("Bearer pdi_not-a-key", "Basic abc", "Bearer"):
            answer = client.get(URL, params=DAY, headers={"Authorization": authorization})
            assert answer.status_code == 401, authorization
        assert len(route_calls) == 1  # refused by the route's key check, before any page was built
