"""Memberships (SPEC C10): rights come from the service, matched by subject, else email, else
the organisation's SIRET; managed by admins (and `pdi people grant`); in force at the next request."""

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, Membership
from app.cli import cli
from app.core.caller import Role
from app.core.db import PdiSession
from app.core.engines import get_engine
from tests import factories
from tests.people.fixtures import bearer, bound_client, oidc_app

MEMBERSHIPS = "/api/v1/memberships"
ME = "/api/v1/me"
SIRET = "73282932000074"  # a valid SIRET (check key)
OTHER_SIRET = "35600000000048"


@pytest.fixture
def operator_with_siret(session: Session):
    row = factories.operator(session, siret=SIRET)
    session.commit()
    return row


def test_an_admin_grants_lists_and_deletes_memberships(people, admin, operator_with_siret, issuer):
    created = people.post(
        MEMBERSHIPS,
        json={"match": {"email": "Chargee@Operateur.fr"}, "role": "operator", "operator_id": operator_with_siret.id},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert {k: v for k, v in body.items() if k not in ("id", "created_at")} == {
        "match": {"email": "chargee@operateur.fr"},
        "role": "operator",
        "operator_id": operator_with_siret.id,
        "name": None,
    }
    by_siret = people.post(
        MEMBERSHIPS,
        json={
            "match": {"siret": SIRET},
            "role": "operator",
            "operator_id": operator_with_siret.id,
            "name": "Ses agents",
        },
        headers=admin,
    )
    assert by_siret.status_code == 201, by_siret.text
    reader = people.post(MEMBERSHIPS, json={"match": {"subject": "abc"}, "role": "reader"}, headers=admin)
    assert reader.status_code == 201, reader.text

    listed = people.get(MEMBERSHIPS, headers=admin).json()
    assert [item["id"] for item in listed["items"]] == [body["id"], by_siret.json()["id"], reader.json()["id"]]
    only_readers = people.get(MEMBERSHIPS, params={"role": "reader"}, headers=admin).json()
    assert [item["match"] for item in only_readers["items"]] == [{"subject": "abc"}]
    of_operator = people.get(MEMBERSHIPS, params={"operator_id": operator_with_siret.id}, headers=admin).json()
    assert of_operator["total"] == 2

    assert people.delete(f"{MEMBERSHIPS}/{reader.json()['id']}", headers=admin).status_code == 204
    assert people.delete(f"{MEMBERSHIPS}/{reader.json()['id']}", headers=admin).status_code == 404
    assert people.get(MEMBERSHIPS, headers=admin).json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"match": {"email": "a@b.fr"}, "role": "operator"}, 422, "must name its operator"),
        ({"match": {"email": "a@b.fr"}, "role": "portal", "operator_id": "OP"}, 422, "Only an operator"),
        ({"match": {"siret": OTHER_SIRET}, "role": "operator", "operator_id": "OP"}, 422, "is not operator"),
        ({"match": {"email": "a@b.fr"}, "role": "operator", "operator_id": 999_999}, 422, "does not exist"),
        ({"match": {"email": "a@b.fr", "subject": "x"}, "role": "reader"}, 422, ""),
        ({"match": {"siret": "123"}, "role": "reader"}, 422, ""),
        ({"match": {"subject": "x"}, "role": "king"}, 422, ""),
    ],
)
def test_memberships_that_break_a_rule_are_refused(people, admin, operator_with_siret, body, status, says):
    if body.get("operator_id") == "OP":
        body = {**body, "operator_id": operator_with_siret.id}
    response = people.post(MEMBERSHIPS, json=body, headers=admin)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert people.get(MEMBERSHIPS, headers=admin).json()["total"] == 0


def test_a_second_membership_with_the_same_match_is_a_409(people, admin):
    first = people.post(MEMBERSHIPS, json={"match": {"email": "x@y.fr"}, "role": "reader"}, headers=admin)
    assert first.status_code == 201
    again = people.post(MEMBERSHIPS, json={"match": {"email": "X@Y.FR"}, "role": "admin"}, headers=admin)
    assert again.status_code == 409, again.text


@pytest.mark.parametrize("caller", ["reader key", "portal person", "anonymous"])
def test_only_admins_manage_memberships(people, issuer, member, make_key, caller):
    member(Role.portal, subject="p-1")
    headers = {
        "reader key": make_key(Role.reader),
        "portal person": bearer(issuer.token(sub="p-1")),
        "anonymous": {},
    }[caller]
    expected = 401 if caller == "anonymous" else 403
    assert people.get(MEMBERSHIPS, headers=headers).status_code == expected
    assert (
        people.post(MEMBERSHIPS, json={"match": {"subject": "me"}, "role": "admin"}, headers=headers).status_code
        == expected
    )


def test_the_most_specific_membership_wins(people, issuer, member, operator_with_siret):
    by_siret = member(Role.operator, operator_id=operator_with_siret.id, siret=SIRET)
    by_email = member(Role.reader, email="agent@operateur.fr")
    by_subject = member(Role.admin, subject="s-1")
    claims = {"email": "agent@operateur.fr", "email_verified": True, "siret": SIRET}

    def membership_of(**token_claims):
        response = people.get(ME, headers=bearer(issuer.token(**token_claims)))
        assert response.status_code == 200, response.text
        return response.json()["membership_id"], response.json()["role"]

    assert membership_of(sub="s-1", **claims) == (by_subject.id, "admin")
    assert membership_of(sub="s-2", **claims) == (by_email.id, "reader")
    assert membership_of(sub="s-2", **{**claims, "email": "AGENT@operateur.FR"}) == (by_email.id, "reader")
    # An email the provider says is unverified is not matched: the SIRET is.
    assert membership_of(sub="s-2", **{**claims, "email_verified": False}) == (by_siret.id, "operator")
    assert membership_of(sub="s-3", siret=SIRET) == (by_siret.id, "operator")
    me = people.get(ME, headers=bearer(issuer.token(sub="s-3", siret=SIRET))).json()
    assert (me["siret"], me["operator_id"]) == (SIRET, operator_with_siret.id)
    refused = people.get(ME, headers=bearer(issuer.token(sub="s-4", siret=OTHER_SIRET)))
    assert refused.status_code == 403


def test_a_deleted_membership_is_refused_at_the_next_request_in_every_worker(session, issuer, member, admin, clock):
    membership = member(Role.reader, subject="s-1")
    token = bearer(issuer.token(sub="s-1"))
    # Two workers: two applications, each with its own memory, over one database.
    with bound_client(oidc_app(issuer.url, clock=clock), session) as first:
        assert first.get(ME, headers=token).status_code == 200
    with bound_client(oidc_app(issuer.url, clock=clock), session) as second:
        assert second.get(ME, headers=token).status_code == 200
        assert second.delete(f"{MEMBERSHIPS}/{membership.id}", headers=admin).status_code == 204
        assert second.get(ME, headers=token).status_code == 403
    with bound_client(oidc_app(issuer.url, clock=clock), session) as first:
        assert first.get(ME, headers=token).status_code == 403
    owner = session.get(ApiKey, membership.api_key_id)
    assert owner.revoked_at is not None  # its webhooks stop too
    assert session.exec(select(Membership).where(Membership.id == membership.id)).first() is None


def test_me_for_a_key(people, make_key, session):
    headers = make_key(Role.portal, name="portail RSA")
    me = people.get(ME, headers=headers).json()
    # A key's fields only: none of a person's, not even as nulls (SPEC C10).
    assert {k: v for k, v in me.items() if k != "key_id"} == {
        "kind": "key",
        "name": "portail RSA",
        "role": "portal",
        "operator_id": None,
    }
    assert isinstance(me["key_id"], int)
    assert people.get(ME).status_code == 401


def test_me_for_a_person(people, issuer, member, operator_with_siret):
    membership = member(Role.operator, operator_id=operator_with_siret.id, email="chargee@operateur.fr")
    token = issuer.token(sub="s-1", email="Chargee@Operateur.fr", name="Chargée de mission", siret=SIRET)
    me = people.get(ME, headers=bearer(token))
    assert me.status_code == 200, me.text
    # A person's fields only: no key id (their membership's owner key is no one's to call with).
    assert me.json() == {
        "kind": "person",
        "subject": "s-1",
        "email": "Chargee@Operateur.fr",
        "name": "Chargée de mission",
        "siret": SIRET,
        "role": "operator",
        "operator_id": operator_with_siret.id,
        "membership_id": membership.id,
    }


def test_the_audit_names_people_and_is_searched_by_actor(people, issuer, member, admin, session, make_key):
    member(Role.admin, email="chef@sarthe.fr")
    chef = bearer(issuer.token(sub="chef-1", email="chef@sarthe.fr", azp="back-office"))
    granted = people.post(MEMBERSHIPS, json={"match": {"subject": "x-1"}, "role": "reader"}, headers=chef)
    assert granted.status_code == 201, granted.text
    by_key = people.post(MEMBERSHIPS, json={"match": {"subject": "x-2"}, "role": "reader"}, headers=admin)
    assert by_key.status_code == 201

    def actors(actor: str) -> list[tuple]:
        items = people.get("/api/v1/audit-events", params={"actor": actor, "entity": "membership"}, headers=admin)
        assert items.status_code == 200, items.text
        return [
            (e["entity_id"], e["actor_kind"], e["actor"], e["subject"], e["client_id"]) for e in items.json()["items"]
        ]

    mine = [(str(granted.json()["id"]), "person", "chef@sarthe.fr", "chef-1", "back-office")]
    assert actors("CHEF@sarthe.fr") == mine
    assert actors("chef-1") == mine
    key_id = session.exec(
        select(AuditEvent.api_key_id).where(
            AuditEvent.entity == "membership", AuditEvent.entity_id == str(by_key.json()["id"])
        )
    ).one()
    assert [(e[0], e[1]) for e in actors(str(key_id))] == [(str(by_key.json()["id"]), "key")]
    assert actors("nobody@sarthe.fr") == []


def test_pdi_people_grant_makes_the_first_admin(engine, issuer, clock):
    runner = CliRunner()
    refused = runner.invoke(cli, ["people", "grant", "--role", "admin"])
    assert refused.exit_code == 2
    result = runner.invoke(cli, ["people", "grant", "--email", "DSI@sarthe.fr", "--role", "admin"])
    assert result.exit_code == 0, result.output
    try:
        with PdiSession(get_engine()) as session:
            row = session.exec(select(Membership).where(Membership.match_value == "dsi@sarthe.fr")).one()
            assert (row.role, row.operator_id) == ("admin", None)
            event = session.exec(
                select(AuditEvent).where(AuditEvent.entity == "membership", AuditEvent.entity_id == str(row.id))
            ).one()
            assert (event.actor_kind, event.actor) == ("cli", "cli")
            with bound_client(oidc_app(issuer.url, clock=clock), session) as people:
                token = bearer(issuer.token(sub="dsi", email="dsi@sarthe.fr"))
                assert people.get(MEMBERSHIPS, headers=token).status_code == 200
        again = runner.invoke(cli, ["people", "grant", "--email", "dsi@sarthe.fr", "--role", "reader"])
        assert again.exit_code == 1 and "already" in again.output
    finally:
        with PdiSession(get_engine()) as session:
            for row in session.exec(select(Membership).where(Membership.match_value == "dsi@sarthe.fr")).all():
                key_id = row.api_key_id
                session.delete(row)
                session.flush()
                for event in session.exec(select(AuditEvent).where(AuditEvent.entity == "membership")).all():
                    session.delete(event)
                session.delete(session.get(ApiKey, key_id))
            session.commit()


def test_rate_limits_count_per_person(session, issuer, member, clock):
    member(Role.reader, subject="s-1")
    member(Role.reader, subject="s-2")
    with bound_client(oidc_app(issuer.url, clock=clock, rate_limit_key="2/minute"), session) as people:
        first, second = bearer(issuer.token(sub="s-1")), bearer(issuer.token(sub="s-2"))
        assert [people.get(ME, headers=first).status_code for _ in range(3)] == [200, 200, 429]
        assert people.get(ME, headers=second).status_code == 200


def test_a_memberships_owner_key_cannot_be_rotated_into_a_key_someone_holds(member, session):
    from app.auth.service import rotate_key
    from app.core.errors import Conflict

    membership = member(Role.portal, subject="s-1")
    with pytest.raises(Conflict, match="cannot be rotated"):
        rotate_key(session=session, key_id=membership.api_key_id)


def test_a_portal_persons_webhooks_are_theirs_and_stop_with_their_membership(
    people, issuer, member, admin, session, monkeypatch
):
    from app.core.config import get_settings
    from app.webhooks.models import WebhookEndpoint
    from app.webhooks.service import current_owner

    monkeypatch.setattr(get_settings(), "webhook_allow_private", True)
    mine = member(Role.portal, subject="ref-1")
    member(Role.portal, subject="ref-2")
    referent, other = bearer(issuer.token(sub="ref-1")), bearer(issuer.token(sub="ref-2"))
    created = people.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks"}, headers=referent)
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]
    assert [e["id"] for e in people.get("/api/v1/webhooks", headers=referent).json()["items"]] == [endpoint_id]
    assert people.get(f"/api/v1/webhooks/{endpoint_id}", headers=other).status_code == 404
    assert people.get("/api/v1/webhooks", headers=other).json()["items"] == []

    endpoint = session.get(WebhookEndpoint, endpoint_id)
    assert current_owner(session, session.get(ApiKey, endpoint.owner_key_id)).id == mine.api_key_id
    assert people.delete(f"{MEMBERSHIPS}/{mine.id}", headers=admin).status_code == 204
    assert current_owner(session, session.get(ApiKey, endpoint.owner_key_id)) is None  # deliveries stop
