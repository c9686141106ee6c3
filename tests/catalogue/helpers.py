"""Assertions and row counts shared by the catalogue tests."""

import itertools

from sqlmodel import Session

from app.audit.models import AuditEvent
from app.catalogue.models import Action, Family, Operator, Site
from tests.factories import row_counts
from tests.helpers import assert_problem  # noqa: F401  (the tests of this domain import it from here)

API = "/api/v1"
_numbers = itertools.count(100)
_codes = itertools.count(1)

# The seed catalogue uses numbers 1–11 and plain codes: tests take numbers from 100 up and
# codes prefixed with "t-", and assert only on the rows they created.


def next_number() -> int:
    return next(_numbers)


def next_code(prefix: str) -> str:
    return f"t-{prefix}-{next(_codes)}"


def stored(session: Session) -> dict[str, int]:
    """How many rows each catalogue table and the audit log hold: equal before/after = nothing stored."""
    return row_counts(session, Family, Action, Operator, Site, AuditEvent)


def codes_in(page: dict, wanted) -> list[str]:
    """The codes of `page`'s items that belong to `wanted`, in the page's order."""
    wanted = set(wanted)
    return [item["code"] for item in page["items"] if item["code"] in wanted]


def create_action(client, admin, family: str, **fields) -> dict:
    """An action created over HTTP (201 checked), with a fresh code and number unless given."""
    body = {"code": next_code("act"), "number": next_number(), "family": family, "name": "Action"} | fields
    response = client.post(f"{API}/actions", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()
