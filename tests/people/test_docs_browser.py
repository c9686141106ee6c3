"""/docs signs a person in, in a real browser (Playwright driving Debian's `/usr/bin/chromium`):
Swagger UI's Authorize runs the authorization code flow with PKCE against a real OpenID Provider
(oidc-provider), the login in its popup, and the person's token then gets a 200 from a protected
route under /docs' own Content-Security-Policy.

Skipped when no browser or oidc-provider is installed, except under CI=true."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import delete, select

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, Membership
from app.core.caller import CLI, Role
from app.core.db import PdiSession
from app.core.engines import get_engine
from app.people.schemas import MembershipCreate
from app.people.service import grant
from tests.indicators.browser import TIMEOUT_MS, browser_for_tests
from tests.people.issuer import AUDIENCE
from tests.people.provider import running_provider
from tests.servers import free_port, wait_until_serving

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chromium():
    with browser_for_tests() as browser:
        yield browser


@pytest.fixture
def agent_membership(engine):
    """A committed membership for agent-1 (by email), removed afterwards with what it left."""
    with PdiSession(get_engine()) as session:
        row = grant(
            session=session,
            caller=CLI,
            data=MembershipCreate(match={"email": "agent.un@sarthe.fr"}, role=Role.reader),
        )
        session.commit()
        membership_id, key_id = row.id, row.api_key_id
    yield membership_id
    with PdiSession(get_engine()) as session:
        session.exec(delete(AuditEvent).where(AuditEvent.entity == "membership"))
        session.exec(delete(Membership).where(Membership.id == membership_id))
        session.exec(delete(ApiKey).where(ApiKey.id == key_id))
        session.commit()


def test_a_person_signs_in_through_docs_and_calls_a_protected_route(chromium, agent_membership, tmp_path):
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    with running_provider(tmp_path / "provider.log", docs_redirect_uri=f"{api}/docs/oauth2-redirect") as provider:
        log = tmp_path / "server.log"
        environment = {
            **os.environ,
            "PDI_OIDC_ISSUER": provider.url,
            "PDI_OIDC_AUDIENCE": AUDIENCE,
            "PDI_OIDC_DOCS_CLIENT_ID": "pdi-docs",
        }
        with log.open("w") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(api_port), "--no-server-header"],
                cwd=PROJECT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until_serving(server, api_port, log)
            context = chromium.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page = context.new_page()
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{api}/docs")
            page.get_by_role("button", name="Authorize").first.click()
            dialog = page.locator(".modal-ux")
            # Swagger UI offers each flow the issuer's discovery document names: take the code flow.
            flow = dialog.locator(".auth-container").filter(has_text="authorization_code with PKCE")
            flow.wait_for()
            assert flow.locator("#client_id_authorization_code").input_value() == "pdi-docs"  # from initOAuth
            for scope in ("openid", "email", "profile"):
                assert flow.locator(f"#{scope}-authorization_code-checkbox-OpenIdConnect").is_checked()
            with page.expect_popup() as opened:
                flow.locator("button.authorize").click()
            popup = opened.value
            popup.locator("input[name=login]").fill("agent-1")
            popup.locator("input[name=password]").fill("any")
            popup.get_by_role("button", name="Sign-in").click()
            # Listening before the click: the popup may close before a later wait would start.
            with popup.expect_event("close"):
                popup.get_by_role("button", name="Continue").click()
            flow.locator("button", has_text="Logout").wait_for()
            dialog.locator("button.close-modal").click()

            operation = page.locator("#operations-people-get_me")
            operation.locator(".opblock-summary").click()
            operation.get_by_role("button", name="Try it out").click()
            operation.get_by_role("button", name="Execute").click()
            status = operation.locator(".live-responses-table .response .response-col_status").first
            status.wait_for()
            assert status.inner_text().strip() == "200", operation.locator(".live-responses-table").inner_text()
            body = operation.locator(".live-responses-table .microlight").first.inner_text()
            assert '"kind": "person"' in body and '"membership_id": ' + str(agent_membership) in body
            assert not [error for error in errors if "Content Security Policy" in error], errors
            context.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    with PdiSession(get_engine()) as session:
        assert session.exec(select(Membership).where(Membership.id == agent_membership)).one()
