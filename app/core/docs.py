"""Swagger UI and ReDoc, served from the service itself.

FastAPI's default pages load their scripts from a CDN; the `fastapi-offline` package ships the
same assets, which are mounted here, so the docs work without the internet and each page's
Content-Security-Policy allows nothing but this service (inline scripts by their hash).
"""

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_content_security_policy(html: str, *, connect: tuple[str, ...] = ()) -> str:
    """Scripts, styles, images and the OpenAPI document from this service only. Styles may be
    inline (both UIs set style attributes, which a hash cannot allow); scripts only by hash.
    `connect`: other origins the page may call (the identity provider, for /docs' sign-in)."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    ]
    directives = [
        "default-src 'none'",
        " ".join(["script-src 'self'", *hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        " ".join(["connect-src 'self'", *connect]),
        "worker-src 'self' blob:",  # ReDoc's search runs in a worker it builds itself
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    return "; ".join(directives)


def _page(html: str, *, connect: tuple[str, ...] = ()) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_content_security_policy(html, connect=connect)})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def install_docs(app: FastAPI, *, oidc_issuer: str | None = None, docs_client_id: str | None = None) -> None:
    """/docs (Swagger UI) and /redoc, with their assets under /docs-assets.

    With an issuer and a client for the docs (PDI_OIDC_DOCS_CLIENT_ID, a public client registered
    at the issuer with `<service>/docs/oauth2-redirect` as redirect URI), /docs' *Authorize* signs
    people in with the authorization code flow and PKCE (no client secret in a page), so staff try
    the API as themselves; the page may then call the issuer (its discovery document and token
    endpoint), and nothing else."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    signs_in = oidc_issuer is not None and docs_client_id is not None
    init_oauth = (
        {"clientId": docs_client_id, "usePkceWithAuthorizationCodeGrant": True, "scopes": "openid email profile"}
        if signs_in
        else None
    )
    connect = (_origin(oidc_issuer),) if signs_in else ()

    if signs_in:

        @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
        def swagger_ui_redirect() -> HTMLResponse:
            return _page(bytes(get_swagger_ui_oauth2_redirect_html().body).decode())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}" if signs_in else None,
            init_oauth=init_oauth,
        )
        return _page(bytes(html.body).decode(), connect=connect)

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return _page(bytes(html.body).decode())
