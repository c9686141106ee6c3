"""Fixtures of the FSE tests: a co-funded convention of operator A, one of operator B, and a
convention of operator A without FSE money, with the keys of every role."""

from dataclasses import dataclass

import pytest
from sqlmodel import Session

from app.auth.models import Role
from app.conventions.models import Convention
from tests import factories

API = "/api/v1"
COMPLETE = {
    "labour_status": "long_term_unemployed",
    "education": "isced_0_2",
    "disability": "yes",
    "third_country_national": "no",
    "foreign_background": "yes",
    "minority": "undisclosed",
    "homeless": "no",
}


@dataclass
class EsfWorld:
    cofunded: Convention  # operator A's, FSE in 2019 and 2020
    other_cofunded: Convention  # operator B's, FSE in 2020
    plain: Convention  # operator A's, no FSE
    operator_key: dict[str, str]
    other_operator_key: dict[str, str]
    reader_key: dict[str, str]
    portal_key: dict[str, str]


@pytest.fixture
def esf(session: Session, make_key) -> EsfWorld:
    action = factories.action(session)
    operator_a, operator_b = factories.operator(session), factories.operator(session)
    fse = {"places": 10, "budget": 10_000, "fse_amount": 4_000}
    cofunded = factories.convention(
        session, action_id=action.id, operator_id=operator_a.id, years={2019: fse, 2020: fse}
    )
    other = factories.convention(session, action_id=action.id, operator_id=operator_b.id, years={2020: fse})
    plain = factories.convention(
        session,
        action_id=action.id,
        operator_id=operator_a.id,
        years={2020: {"places": 10, "budget": 10_000, "fse_amount": 0}},
    )
    session.commit()
    return EsfWorld(
        cofunded=cofunded,
        other_cofunded=other,
        plain=plain,
        operator_key=make_key(Role.operator, operator_id=operator_a.id),
        other_operator_key=make_key(Role.operator, operator_id=operator_b.id),
        reader_key=make_key(Role.reader),
        portal_key=make_key(Role.portal),
    )


def post_pathway(client, headers, convention_id: int, ref: str, **fields) -> dict:
    body = {"convention_id": convention_id, "beneficiary_ref": ref, "prescribed_on": "2019-01-02", **fields}
    response = client.post(f"{API}/pathways", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
