"""oidc-provider (tests/people/provider/provider.js), a real OpenID Provider, in a process of its
own on loopback; and tokens got from it through its real flows."""

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.people.issuer import AUDIENCE
from tests.servers import free_port

PROVIDER_DIR = Path(__file__).parent / "provider"
# The accounts it knows: what their access tokens say of them.
ACCOUNTS = {
    "agent-1": {"email": "Agent.Un@sarthe.fr", "email_verified": True, "name": "Agent Un"},
    "staff-1": {"email": "staff@operateur.fr", "email_verified": True, "siret": "73282932000074"},
}


class Provider:
    def __init__(self, url: str):
        self.url = url

    def client_credentials(self, *, client_id="machine", secret="machine-secret", resource=AUDIENCE) -> str:
        response = httpx.post(
            f"{self.url}/token",
            data={"grant_type": "client_credentials", "resource": resource},
            auth=(client_id, secret),
            trust_env=False,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def sign_in(self, account: str, *, client_id="portal-app", secret="portal-secret") -> str:
        """A person's access token through the authorization code flow with PKCE: the login and
        consent forms of oidc-provider's development interactions posted as a browser would."""
        redirect_uri = "http://127.0.0.1/callback"
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        with httpx.Client(base_url=self.url, trust_env=False, follow_redirects=False) as browser:
            response = browser.get(
                "/auth",
                params={
                    "client_id": client_id,
                    "response_type": "code",
                    "redirect_uri": redirect_uri,
                    "scope": "openid email profile siret",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "resource": AUDIENCE,
                    "state": "s",
                },
            )
            for _ in range(10):
                assert response.status_code in (302, 303), response.text
                location = urljoin(self.url, response.headers["location"])
                if location.startswith(redirect_uri):
                    break
                page = browser.get(location)
                if page.status_code in (302, 303):
                    response = page
                    continue
                assert "<form" in page.text, (page.status_code, page.text[-1500:])
                action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1)
                fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
                if 'name="login"' in page.text:
                    fields.update({"login": account, "password": "any"})
                response = browser.post(action, data=fields)
            code = parse_qs(urlsplit(location).query)["code"][0]
            token = browser.post(
                "/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                    "resource": AUDIENCE,
                },
                auth=(client_id, secret),
            )
            assert token.status_code == 200, token.text
            return token.json()["access_token"]


def provider_installed() -> bool:
    return shutil.which("node") is not None and (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir()


def require_provider() -> None:
    """Skip (fail under CI) when oidc-provider is not installed."""
    if not provider_installed():
        if os.environ.get("CI"):
            pytest.fail("oidc-provider is not installed: `npm ci` in tests/people/provider (.ci/run does)")
        pytest.skip("oidc-provider not installed: `npm ci --prefix tests/people/provider`")


@contextmanager
def running_provider(
    log: Path, *, docs_redirect_uri: str = "http://127.0.0.1/docs/oauth2-redirect", settings: dict | None = None
) -> Iterator[Provider]:
    """oidc-provider on a free loopback port, until the block ends. `settings`: its environment
    (provider.js names it) over the tests' own, the port and the loopback address aside."""
    require_provider()
    port = free_port()
    environment = {
        **os.environ,
        "AUDIENCE": AUDIENCE,
        "ACCOUNTS": json.dumps(ACCOUNTS),
        "DOCS_REDIRECT_URI": docs_redirect_uri,
        **(settings or {}),
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            ["node", str(PROVIDER_DIR / "provider.js")], env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        # A deadline, not a wait: under the parallel suite's load node has taken over 30 s to listen.
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration", trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Provider(url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def provider(tmp_path_factory) -> Iterator[Provider]:
    with running_provider(tmp_path_factory.mktemp("provider") / "provider.log") as running:
        yield running
