"""Against a real OpenID Provider (oidc-provider, OpenID Certified; tests/people/provider/):
tokens got through its flows (client credentials; authorization code with PKCE and a login)
are accepted as the memberships say, and one meant for another API is refused."""

from datetime import date
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import yaml
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.core.caller import Role
from app.core.config import PROJECT_ROOT
from tests import factories
from tests.pathways.helpers import API, stored_pathway
from tests.people.fixtures import bearer, bound_client, oidc_app
from tests.people.provider import ACCOUNTS, running_provider

pytestmark = pytest.mark.slow


@pytest.fixture
def via_provider(provider, session: Session):
    with bound_client(oidc_app(provider.url), session) as client:
        yield client


def test_a_machine_token_by_client_credentials(via_provider, provider, member):
    member(Role.reader, subject="machine")
    token = provider.client_credentials()
    me = via_provider.get(f"{API}/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert (me.json()["kind"], me.json()["subject"], me.json()["role"]) == ("person", "machine", "reader")
    assert via_provider.get(f"{API}/audit-events", headers=bearer(token)).status_code == 403


def test_a_token_for_another_api_is_refused(via_provider, provider, member):
    member(Role.admin, subject="machine")
    token = provider.client_credentials(resource="https://another-api.example")
    response = via_provider.get(f"{API}/me", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert "not meant for this service" in response.json()["detail"]


def test_an_operators_staff_signed_in_read_their_operators_pathways_only(via_provider, provider, member, session):
    ours = factories.operator(session, siret=ACCOUNTS["staff-1"]["siret"])
    ours_convention = factories.convention(session, operator_id=ours.id)
    theirs_convention = factories.convention(session)
    session.commit()
    mine = stored_pathway(session, ours_convention.id, "P-1", entered_on=date(2019, 1, 15))
    other = stored_pathway(session, theirs_convention.id, "P-2", entered_on=date(2019, 1, 15))
    member(Role.operator, operator_id=ours.id, siret=ACCOUNTS["staff-1"]["siret"])

    staff = bearer(provider.sign_in("staff-1"))
    me = via_provider.get(f"{API}/me", headers=staff).json()
    assert (me["email"], me["siret"], me["role"], me["operator_id"]) == (
        "staff@operateur.fr",
        ACCOUNTS["staff-1"]["siret"],
        "operator",
        ours.id,
    )
    assert via_provider.get(f"{API}/pathways/{mine.id}", headers=staff).status_code == 200
    assert via_provider.get(f"{API}/pathways/{other.id}", headers=staff).status_code == 404
    read = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity == "pathway", AuditEvent.entity_id == str(mine.id), AuditEvent.action == "read"
        )
    ).one()
    assert (read.actor_kind, read.actor, read.subject, read.client_id) == (
        "person",
        "staff@operateur.fr",
        "staff-1",
        "portal-app",
    )


def test_an_agent_signed_in_is_matched_by_email(via_provider, provider, member):
    membership = member(Role.admin, email="agent.un@sarthe.fr")
    agent = bearer(provider.sign_in("agent-1"))
    me = via_provider.get(f"{API}/me", headers=agent).json()
    assert (me["name"], me["membership_id"], me["role"]) == ("Agent Un", membership.id, "admin")
    assert via_provider.get(f"{API}/memberships", headers=agent).status_code == 200


def test_the_provider_runs_as_composes_dev_profile_configures_it(tmp_path):
    """docker-compose.yml's `oidc` service (the `dev` profile) runs this same provider.js with its
    own environment: it starts with it (its accounts parse), calls itself by the issuer Compose
    names, and issues tokens for the audience the api is told to require there."""
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    settings = {name: str(value) for name, value in compose["services"]["oidc"]["environment"].items()}
    with running_provider(tmp_path / "provider.log", settings=settings) as provider:
        # Asked by that name, as the api container and the browser ask it (oidc-provider writes its
        # endpoints' URLs with the host it was asked by).
        discovery = httpx.get(
            f"{provider.url}/.well-known/openid-configuration",
            headers={"Host": urlsplit(settings["ISSUER"]).netloc},
            trust_env=False,
        ).json()
        assert discovery["issuer"] == settings["ISSUER"]
        assert discovery["jwks_uri"] == f"{settings['ISSUER']}/jwks"
        token = provider.client_credentials(resource=settings["AUDIENCE"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"]) == (settings["ISSUER"], settings["AUDIENCE"], "machine")
