"""Fixtures of the pathways tests: two operators with a convention each, and their keys."""

from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from app.auth.models import Role
from app.conventions.models import Convention
from tests import factories
from tests.pathways.helpers import CONVENTION_END, CONVENTION_START, stored_state


@dataclass
class World:
    convention: Convention  # operator A's, where the tests write
    other_convention: Convention  # operator B's
    site_id: int  # a site of `convention`
    foreign_site_id: int  # a site of operator A that is not one of `convention`'s
    operator_key: dict[str, str]  # operator A's key
    other_operator_key: dict[str, str]  # operator B's key


@pytest.fixture
def world(session: Session, make_key) -> World:
    action = factories.action(session)
    operator_a = factories.operator(session)
    operator_b = factories.operator(session)
    site = factories.site(session, operator_id=operator_a.id)
    foreign_site = factories.site(session, operator_id=operator_a.id)
    convention = factories.convention(
        session,
        action_id=action.id,
        operator_id=operator_a.id,
        site_ids=[site.id],
        start_on=CONVENTION_START,
        end_on=CONVENTION_END,
        years={2019: {"places": 10}},
    )
    other = factories.convention(
        session,
        action_id=action.id,
        operator_id=operator_b.id,
        start_on=CONVENTION_START,
        end_on=CONVENTION_END,
    )
    session.commit()
    return World(
        convention=convention,
        other_convention=other,
        site_id=site.id,
        foreign_site_id=foreign_site.id,
        operator_key=make_key(Role.operator, operator_id=operator_a.id),
        other_operator_key=make_key(Role.operator, operator_id=operator_b.id),
    )


@pytest.fixture
def nothing_stored(session: Session):
    """`with nothing_stored(): ...` fails if the block adds, removes or changes any stored row it may touch."""

    @contextmanager
    def check():
        before = stored_state(session)
        yield
        assert stored_state(session) == before

    return check
