"""Many clients at once, for real: a database of the run's kind (SQLite file or PostgreSQL) that
the requests commit to, an application bound to it, and requests sent from threads released
together. The rolled-back `session` fixture of the other tests cannot show a race."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import create_key
from app.core.config import Settings, get_settings
from app.core.db import PdiSession, get_read_session, get_session, get_writer_session, request_session
from app.core.engines import get_engine, make_engine
from app.core.migrate import upgrade_head
from app.main import create_app
from tests import factories
from tests.scratch import scratch_database


def app_on(engine: Engine, settings: Settings | None = None) -> FastAPI:
    """An application whose requests open their sessions on `engine`, as in production."""
    app = create_app(settings or get_settings())

    def session_on_engine(request: Request):
        yield from request_session(engine, request)

    def writer_session_on_engine(request: Request):
        yield from request_session(engine, request, write=True)

    app.dependency_overrides[get_session] = session_on_engine
    app.dependency_overrides[get_writer_session] = writer_session_on_engine
    app.dependency_overrides[get_read_session] = session_on_engine
    app.dependency_overrides[get_engine] = lambda: engine
    return app


def run_at_once(app: FastAPI, requests: list[Callable]) -> list:
    """Send each request (a function of a TestClient) from its own thread, all released together;
    the answers in the order of `requests`."""
    barrier = threading.Barrier(len(requests))
    answers: list = [None] * len(requests)

    def run(index: int, request: Callable) -> None:
        with TestClient(app, raise_server_exceptions=False) as client:
            barrier.wait(timeout=30)
            answers[index] = request(client)

    threads = [threading.Thread(target=run, args=(i, request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never answered"
    return answers


@contextmanager
def client_of(world: "World") -> Iterator[TestClient]:
    """A plain client of the world's application, to set up and read back."""
    with TestClient(world.app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class World:
    engine: Engine
    app: FastAPI
    admin: dict[str, str]
    operator: dict[str, str]
    operator_id: int
    convention_id: int
    family_code: str
    action_code: str

    def session(self) -> Session:
        return PdiSession(self.engine, expire_on_commit=False)


def world_on(url: str) -> World:
    """Migrate the empty database at `url` and commit a small catalogue: a family, an action, an
    operator with a convention running 2018–2030 (places 2019–2026), and admin and operator keys."""
    upgrade_head(url)
    engine = make_engine(url)
    with PdiSession(engine, expire_on_commit=False) as session:
        family = factories.family(session)
        action = factories.action(session, family_id=family.id)
        operator = factories.operator(session)
        convention = factories.convention(
            session,
            action_id=action.id,
            operator_id=operator.id,
            start_on=date(2018, 1, 1),
            end_on=date(2030, 12, 31),
            years={year: {"places": 50} for year in range(2019, 2027)},
        )
        _row, admin_key = create_key(session=session, role=Role.admin, name="race admin")
        _row, operator_key = create_key(
            session=session, role=Role.operator, name="race operator", operator_id=operator.id
        )
        session.commit()
    return World(
        engine=engine,
        app=app_on(engine),
        admin={"Authorization": f"Bearer {admin_key}"},
        operator={"Authorization": f"Bearer {operator_key}"},
        operator_id=operator.id,
        convention_id=convention.id,
        family_code=family.code,
        action_code=action.code,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    """One committed world per test module, in a database of the run's kind."""
    with scratch_database(tmp_path_factory.mktemp("concurrency"), "pdi_concurrency") as url:
        world = world_on(url)
        yield world
        world.engine.dispose()
