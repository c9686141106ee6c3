"""The API against its own OpenAPI document (SPEC C2): schemathesis generates requests for every
operation, as every role, and checks that no answer is a server error or contradicts the
document (status code, content type, body schema). Bounded: a few examples per operation."""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from sqlmodel import select

from app.catalogue.models import Operator
from app.core.config import get_settings
from app.core.db import get_session, get_writer_session
from app.main import create_app

pytestmark = pytest.mark.slow

ROLES = ["anonymous", "reader", "portal", "operator", "admin"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Random requests per operation (each sent as every role). Schemathesis's coverage phase (every
# boundary of every parameter, ~80 requests per operation) would take four minutes per database
# pass, past this suite's budget: off, and more random examples instead.
EXAMPLES_PER_OPERATION = 25
CASES: Counter = Counter()
FAILURES: Counter = Counter()

APP = create_app(get_settings())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.phases.coverage.enabled = False


@pytest.fixture(autouse=True)
def bound_to_the_test_session(session):
    """Every request of a test runs in its rolled-back session."""

    def session_override():
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise

    APP.dependency_overrides[get_session] = session_override
    APP.dependency_overrides[get_writer_session] = session_override
    yield
    APP.dependency_overrides.clear()


@pytest.fixture
def keys(session, make_key) -> dict[str, dict[str, str]]:
    """The Authorization headers of each role (none for anonymous)."""
    operator_id = session.exec(select(Operator.id).order_by(Operator.id)).first()
    return {
        "anonymous": {},
        "reader": make_key("reader"),
        "portal": make_key("portal"),
        "operator": make_key("operator", operator_id=operator_id),
        "admin": make_key("admin"),
    }


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    print(f"\nschemathesis cases per role: {dict(CASES)}; failures per role: {dict(FAILURES)}")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_answer_matches_the_document(case, keys):
    # Each generated request is sent as every role: generating is the slow part, not answering.
    failures = []
    for role, headers in keys.items():
        CASES[role] += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:
            FAILURES[role] += 1
            failures.append(f"as {role}: {failure}")
    assert not failures, "\n\n".join(failures)
