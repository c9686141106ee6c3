"""Fixtures of people signed in (SPEC C10): an application trusting a test identity provider, memberships."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.caller import CLI, Role
from app.core.config import get_settings
from app.core.db import get_read_session, get_session, get_writer_session
from app.main import create_app
from app.people.schemas import MembershipCreate
from app.people.service import grant
from tests.people.issuer import AUDIENCE, Issuer


class Clock:
    """The verifier's monotonic clock, moved by the tests instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    running = Issuer()
    yield running
    running.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def bound_client(app, session: Session) -> TestClient:
    def session_override():
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = session_override
    app.dependency_overrides[get_writer_session] = session_override
    app.dependency_overrides[get_read_session] = session_override
    return TestClient(app, raise_server_exceptions=False)


def oidc_app(issuer_url: str, audience: str = AUDIENCE, clock=None, **settings):
    app = create_app(
        get_settings().model_copy(update={"oidc_issuer": issuer_url, "oidc_audience": audience, **settings})
    )
    if clock is not None:
        app.state.token_verifier._clock = clock
    return app


@pytest.fixture
def people(issuer: Issuer, clock: Clock, session: Session) -> Iterator[TestClient]:
    """A client of an application trusting `issuer`."""
    with bound_client(oidc_app(issuer.url, clock=clock), session) as client:
        yield client


@pytest.fixture
def member(session: Session):
    """`member(role, subject=… | email=… | siret=…, operator_id=None)` → the membership."""

    def make(role: Role | str, operator_id: int | None = None, **match):
        row = grant(
            session=session, caller=CLI, data=MembershipCreate(match=match, role=Role(role), operator_id=operator_id)
        )
        session.commit()
        return row

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
