"""Fixtures of the catalogue tests."""

import pytest

from tests import factories
from tests.catalogue.helpers import next_code


@pytest.fixture
def family(session):
    """The code of a committed family, for actions to be created in."""
    row = factories.family(session, code=next_code("fam"))
    session.commit()
    return row.code
