"""A person acts with their membership's role exactly as a key of that role does (SPEC C10):
the role matrix of tests/pathways/test_access.py again, each caller a person's access token."""

from datetime import date

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.auth.models import Role
from tests.pathways.helpers import API, assert_problem, pathway_body, stored_pathway
from tests.pathways.test_access import EXPECTED, ROLES, SEES_TARGET, _call
from tests.pathways.test_diagnostic import DIAGNOSTIC
from tests.people.fixtures import bearer


@pytest.fixture
def person(issuer, member, world):
    """`person(role)` → the Authorization headers of a person holding that role (by subject)."""

    def make(role: str, operator_id: int | None = None, **claims) -> dict[str, str]:
        subject = f"{role}-person"
        member(role, operator_id=operator_id, subject=subject)
        return bearer(issuer.token(sub=subject, **claims))

    return make


@pytest.mark.parametrize("endpoint", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_for_people(people, session, person, world, nothing_stored, role, endpoint):
    active = stored_pathway(session, world.convention.id, "T-1", entered_on=date(2019, 1, 15))
    prescribed = stored_pathway(session, world.convention.id, "T-2")
    headers = {
        "anonymous": lambda: {},
        "reader": lambda: person(Role.reader),
        "portal": lambda: person(Role.portal),
        "operator_own": lambda: person(Role.operator, operator_id=world.convention.operator_id),
        "operator_other": lambda: person(Role.operator, operator_id=world.other_convention.operator_id),
        "admin": lambda: person(Role.admin),
    }[role]()
    expected = EXPECTED[endpoint][ROLES.index(role)]
    if expected >= 400:
        with nothing_stored():
            assert_problem(_call(people, endpoint, headers, world, active.id, prescribed.id), expected)
        return
    response = _call(people, endpoint, headers, world, active.id, prescribed.id)
    assert response.status_code == expected, response.text
    if endpoint == "list pathways":
        listed = {item["id"] for item in response.json()["items"]}
        assert ({active.id, prescribed.id} <= listed) == (role in SEES_TARGET)
        assert not listed or role in SEES_TARGET


def test_an_operators_person_never_reads_another_operators_pathway(people, session, person, world):
    theirs = stored_pathway(session, world.other_convention.id, "O-9", entered_on=date(2019, 1, 15))
    ours = stored_pathway(session, world.convention.id, "O-8", entered_on=date(2019, 1, 15))
    headers = person(Role.operator, operator_id=world.convention.operator_id)
    assert_problem(people.get(f"{API}/pathways/{theirs.id}", headers=headers), 404)
    assert people.get(f"{API}/pathways/{ours.id}", headers=headers).status_code == 200
    listed = people.get(f"{API}/pathways", headers=headers).json()["items"]
    assert [item["id"] for item in listed] == [ours.id]


def test_what_a_portal_person_prescribes_is_theirs_and_their_reads_are_audited_under_them(
    people, session, issuer, member, world, make_key
):
    member(Role.portal, email="referente@sarthe.fr")
    referent = bearer(issuer.token(sub="ref-1", email="Referente@Sarthe.fr", azp="portail-rsa"))
    portal_key = make_key(Role.portal)
    created = people.post(f"{API}/pathways", json=pathway_body(world.convention.id, "RSA-P1"), headers=referent)
    assert created.status_code == 201, created.text
    pathway_id = created.json()["id"]
    assert people.get(f"{API}/pathways/{pathway_id}", headers=referent).status_code == 200
    assert [p["id"] for p in people.get(f"{API}/pathways", headers=referent).json()["items"]] == [pathway_id]
    # Another portal (a key) does not see it, as between two portal keys.
    assert_problem(people.get(f"{API}/pathways/{pathway_id}", headers=portal_key), 404)

    entry = people.post(
        f"{API}/pathways/{pathway_id}/entry", json={"entered_on": "2019-02-01"}, headers=world.operator_key
    )
    assert entry.status_code == 200, entry.text
    assert (
        people.put(f"{API}/pathways/{pathway_id}/diagnostic", json=DIAGNOSTIC, headers=world.operator_key).status_code
        == 201
    )
    read = people.get(f"{API}/pathways/{pathway_id}/diagnostic", headers=referent)
    assert read.status_code == 200, read.text

    event = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity == "diagnostic", AuditEvent.entity_id == str(pathway_id), AuditEvent.action == "read"
        )
    ).one()
    assert (event.actor_kind, event.actor, event.subject, event.client_id, event.api_key_id) == (
        "person",
        "Referente@Sarthe.fr",
        "ref-1",
        "portail-rsa",
        None,
    )
    created_event = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity == "pathway", AuditEvent.entity_id == str(pathway_id), AuditEvent.action == "create"
        )
    ).one()
    assert (created_event.actor_kind, created_event.subject) == ("person", "ref-1")
