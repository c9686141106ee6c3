"""/docs signs people in (SPEC C10): with PDI_OIDC_DOCS_CLIENT_ID, Swagger UI's Authorize runs the
authorization code flow with PKCE against the issuer, which the page's CSP then lets it call; the
OpenAPI document names the issuer beside the key and token schemes. Without it, nothing of this shows."""

import base64
import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.main import create_app

pytestmark = pytest.mark.slow

ISSUER = "https://idp.example.fr/realms/cd72"


def _app(**oidc):
    return create_app(get_settings().model_copy(update=oidc))


def _script_hashes(html: str) -> set[str]:
    return {
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    }


def test_docs_sign_in_with_pkce_when_a_client_is_configured():
    app = _app(oidc_issuer=ISSUER, oidc_audience="pdi", oidc_docs_client_id="pdi-docs")
    with TestClient(app) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        init = json.loads(re.search(r"ui\.initOAuth\((\{.*?\})\)", page.text, re.DOTALL).group(1))
        assert init["clientId"] == "pdi-docs" and init["usePkceWithAuthorizationCodeGrant"] is True
        assert "clientSecret" not in init
        assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in page.text
        policy = page.headers["content-security-policy"]
        assert "connect-src 'self' https://idp.example.fr;" in policy
        assert _script_hashes(page.text) and all(h in policy for h in _script_hashes(page.text))

        redirect = client.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200 and "oauth2.callback" in redirect.text
        assert all(h in redirect.headers["content-security-policy"] for h in _script_hashes(redirect.text))

        document = client.get("/openapi.json").json()
        assert document["components"]["securitySchemes"]["OpenIdConnect"] == {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{ISSUER}/.well-known/openid-configuration",
            "description": "A person signed in with the département's identity provider (their access token)",
        }
        assert document["paths"]["/api/v1/me"]["get"]["security"] == [
            {"ApiKey": []},
            {"AccessToken": []},
            {"OpenIdConnect": []},
        ]
        assert document["paths"]["/api/v1/families"]["get"]["security"] == []


def test_without_a_docs_client_the_docs_take_keys_only():
    with TestClient(_app(oidc_issuer=ISSUER, oidc_audience="pdi")) as client:
        page = client.get("/docs")
        assert "initOAuth" not in page.text
        assert "connect-src 'self';" in page.headers["content-security-policy"]
        assert client.get("/docs/oauth2-redirect").status_code == 404
    with TestClient(_app()) as client:
        document = client.get("/openapi.json").json()
        # No issuer to point at: the key and the token schemes only, as in docs/openapi.json.
        assert set(document["components"]["securitySchemes"]) == {"ApiKey", "AccessToken"}
        assert document["paths"]["/api/v1/me"]["get"]["security"] == [{"ApiKey": []}, {"AccessToken": []}]
