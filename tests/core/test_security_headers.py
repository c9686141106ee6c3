"""Headers on every response, no-store on personal data, docs served offline (SPEC C2)."""

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import get_session
from app.core.security_headers import API_CONTENT_SECURITY_POLICY
from app.main import create_app
from tests import factories

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def assert_hardened(response) -> None:
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert "content-security-policy" in response.headers
    assert "server" not in response.headers


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/families"),
        ("GET", "/api/v1/availability"),
        ("GET", "/api/v1/nothing-here"),  # a 404
        ("GET", "/api/v1/conventions"),  # a 401
        ("POST", "/api/v1/families"),  # a 401 with a body
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ],
)
def test_every_response_carries_the_security_headers(client, method, path):
    response = client.request(method, path, json={} if method == "POST" else None)
    assert_hardened(response)
    assert "strict-transport-security" not in response.headers  # PDI_HSTS is off by default


def test_json_answers_forbid_everything_to_a_browser(client):
    response = client.get("/api/v1/families")
    assert (
        response.headers["content-security-policy"]
        == API_CONTENT_SECURITY_POLICY
        == ("default-src 'none'; frame-ancestors 'none'")
    )


def test_the_413_and_429_answers_are_hardened_too(client):
    response = client.post("/api/v1/families", content=b" " * 2_000_000, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert_hardened(response)


def test_the_html_bilan_keeps_its_own_policy(client, reader):
    response = client.get("/api/v1/bilan", params={"years": "2019", "format": "html"}, headers=reader)
    assert response.status_code == 200
    assert_hardened(response)
    policy = response.headers["content-security-policy"]
    assert policy != API_CONTENT_SECURITY_POLICY
    assert "style-src 'sha256-" in policy


def test_hsts_when_asked(session):
    app = create_app(Settings(hsts=True, rate_limit_anonymous="0"))
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_personal_data_is_never_cached(client, session, admin):
    convention = factories.convention(session)
    pathway = factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 3, 1))
    session.commit()
    item = {"pathway_id": pathway.id, "exited_on": "2019-06-30", "exit_reason": "training"}
    responses = [
        client.get("/api/v1/pathways", headers=admin),
        client.get(f"/api/v1/pathways/{pathway.id}", headers=admin),
        client.get("/api/v1/pathways/999999", headers=admin),
        client.post("/api/v1/exit-records", json=[item], headers=admin),
        client.get("/api/v1/audit-events", headers=admin),
    ]
    for response in responses:
        assert response.headers["cache-control"] == "no-store", response.request.url
    # Public figures keep theirs; the catalogue sets none.
    assert client.get("/api/v1/availability").headers["cache-control"] == "public, max-age=60"
    assert "cache-control" not in client.get("/api/v1/families").headers


# --- the docs, offline --------------------------------------------------------------------------


def _urls_in(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"""url:\s*'([^']+)'""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_only_what_the_service_serves(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    urls = _urls_in(html)
    assert urls, html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} refers to another host: {url}"
        assert client.get(url).status_code == 200, url
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html

    policy = dict(
        directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    sources = policy["script-src"].split()
    assert sources[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in sources[1:])  # inline scripts by hash only
    assert "http" not in response.headers["content-security-policy"]


def test_the_swagger_page_s_inline_script_is_allowed_by_its_hash(client):
    import base64
    import hashlib

    response = client.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in response.headers["content-security-policy"]
