"""Fixtures of the conventions tests: rows of our own, never the seed's."""

import pytest
from sqlmodel import Session

from tests import factories
from tests.conventions.helpers import World


@pytest.fixture
def world(session: Session) -> World:
    operator = factories.operator(session)
    other_operator = factories.operator(session)
    world = World(
        action=factories.action(session),
        operator=operator,
        sites=[factories.site(session, operator_id=operator.id) for _ in range(2)],
        other_operator=other_operator,
        other_site=factories.site(session, operator_id=other_operator.id),
    )
    session.commit()
    return world


@pytest.fixture
def new_body(world: World):
    """`new_body(**overrides)` → a valid create body with a fresh reference."""

    def make(**overrides) -> dict:
        body = {
            "reference": factories.unique("CONV-T"),
            "action": world.action.code,
            "operator_id": world.operator.id,
            "start_on": "2018-04-01",
            "end_on": "2020-12-31",
        }
        body.update(overrides)
        return body

    return make
