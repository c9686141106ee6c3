"""The OpenAPI document, made to tell the truth (SPEC C2).

FastAPI's own document is close; what it cannot know is added here, once, for every route:

- the summary is the first line of the route's docstring;
- security: routes behind `require_role` take a key or a person's access token, both in the
  `Authorization: Bearer` header, declared as two schemes whatever the settings, so that a
  client generated from the committed document can send either: `ApiKey` and `AccessToken`
  (`bearerFormat: JWT`), each requirement an alternative (`[{"ApiKey": []}, {"AccessToken":
  []}]`; Swagger UI shows their padlock, closed once one is entered). Where an identity provider
  is configured, `OpenIdConnect` joins them, pointing at its discovery document, so that /docs'
  *Authorize* can sign a person in. The public routes need none (`[]`: no padlock, as an
  optional `[{}, {"ApiKey": []}]` would show a closed one on them, and an open one on the
  protected routes beside it). A key or token sent to a public route is still checked (a bad
  one is a 401) and may widen the answer (the change feed): `x-key-optional` says so;
- models embedded by hand (a request body in `openapi_extra`, the Problem schema) bring their
  `$defs`: they join the components, so that every `$ref` resolves;
- every error is `application/problem+json` with the Problem schema (FastAPI files declared
  models and its own 422 under `application/json`);
- the errors any route can give: 401 (a bad key or token), 403 (a valid token that no membership
  matches, on any route, or a role the route does not allow), 429 (rate limits, with
  Retry-After), 503 (the database, with Retry-After), 422 (a parameter or body that does not
  parse), 413 and 400 where a body is taken.
"""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from app.core.errors import PROBLEM_MEDIA_TYPE, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
COMPONENT_REF = "#/components/schemas/{model}"
OPENAPI_SERVERS = [{"url": "/", "description": "The server that serves this document"}]
# No licence is declared in pyproject.toml: the code is the département's, all rights reserved,
# until it chooses one (then its SPDX identifier goes here, e.g. "EUPL-1.2").
OPENAPI_LICENSE = {"name": "Proprietary (all rights reserved)", "identifier": "LicenseRef-Proprietary"}
OPENAPI_CONTACT = {"name": "Catalogue PDI maintainers"}
API_KEY = "ApiKey"
ACCESS_TOKEN = "AccessToken"
OPENID = "OpenIdConnect"
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer", "minimum": 1}}
}

ERROR_DESCRIPTIONS = {
    400: "Malformed body",
    401: "Missing, malformed, unknown, revoked or expired API key, or an access token refused (the detail says why)",
    403: "The caller's role does not allow this, or no membership gives the person signed in a role",
    404: "Not found (or not visible to this key)",
    409: "Conflict with stored state",
    412: "If-Match names another version than the stored one",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Rate limit reached: try again after Retry-After seconds",
    503: "The database is unavailable or busy: try again after Retry-After seconds",
}
WITH_RETRY_AFTER = (429, 503)

TAGS = [
    {"name": "families", "description": "The axes of the programme (référencement, évaluation…). Public reads."},
    {"name": "actions", "description": "The actions of the programme, numbered as in the bilan. Public reads."},
    {
        "name": "assessments",
        "description": "Each action's bilan qualitatif per year: the staff's points (any key reads, admins write).",
    },
    {"name": "operators", "description": "The organisations that run actions, and their sites. Public reads."},
    {"name": "conventions", "description": "Funding agreements per operator and action, with their yearly lines."},
    {
        "name": "pathways",
        "description": "Beneficiaries' pathways and their exits (personal data: reads are audited, never cached).",
    },
    {
        "name": "weekly hours",
        "description": "The contrat d'engagement: each person's hours a week from their pathways in progress, "
        "beside their target (personal data: reads are audited, never in the feed).",
    },
    {"name": "activity", "description": "Activity counters operators report on their conventions."},
    {"name": "availability", "description": "Free places per convention, polled by the RSA portal. Public."},
    {
        "name": "changes",
        "description": "What changed since a cursor, in commit order (pathways per the caller's rights).",
    },
    {
        "name": "webhooks",
        "description": "Endpoints that receive the change feed pushed to them, signed (Standard Webhooks).",
    },
    {
        "name": "exports",
        "description": "What the département publishes: the catalogue in the data·inclusion schema v1 and its "
        "publication template, its grants in the SCDL subventions format. Public.",
    },
    {"name": "imports", "description": "Operators and their sites from the national directory (data·inclusion)."},
    {"name": "indicators", "description": "The bilan's indicators and the bilan itself, computed on demand."},
    {
        "name": "esf",
        "description": "The FSE's (ESF+) reporting: participants' report, incomplete records, six-month follow-ups.",
    },
    {"name": "periods", "description": "Years and their consolidation."},
    {"name": "reference", "description": "Exit reasons and indicator definitions. Public."},
    {"name": "audit", "description": "Who wrote or read what, when (admin)."},
    {
        "name": "people",
        "description": "Who calls (`/me`); the memberships giving people signed in with the identity provider a role.",
    },
    {"name": "operations", "description": "Liveness and readiness probes."},
]


def operation_id(route: routing.APIRoute) -> str:
    """Short and stable: the route function's name (list_families, get_family…), unique by design."""
    return route.name


def install_openapi(app: FastAPI, *, oidc_issuer: str | None = None) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _complete(schema, _key_required_by_operation(app), oidc_issuer=oidc_issuer)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


def _requires_key(dependant: Dependant) -> bool:
    return any(
        getattr(dependency.call, "requires_key", False) or _requires_key(dependency)
        for dependency in dependant.dependencies
    )


def _key_required_by_operation(app: FastAPI) -> dict[tuple[str, str], bool]:
    required = {}
    for context in routing.iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(context.original_route, routing.APIRoute) and dependant is not None:
            for method in context.methods:
                required[(context.path_format, method.lower())] = _requires_key(dependant)
    return required


def _problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }
    if status in WITH_RETRY_AFTER:
        response["headers"] = RETRY_AFTER
    return response


def _is_a_problem(response: dict[str, Any]) -> bool:
    """Whether an error response is (or should be) a problem document: all are, but for a route
    that declared another body itself (readiness says what it found in its own JSON)."""
    content = response.get("content")
    if not content or PROBLEM_MEDIA_TYPE in content:
        return True
    declared = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return declared.endswith(("/Problem", "/HTTPValidationError"))


def _own_description(status: int, response: dict[str, Any]) -> str | None:
    # FastAPI's placeholders (the status's phrase) say nothing a client can use.
    description = response.get("description")
    placeholders = (None, "", "Additional Response", "Validation Error", HTTPStatus(status).phrase)
    return None if description in placeholders else description


def _security_schemes(oidc_issuer: str | None) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        API_KEY: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key created with `pdi keys create` (machines: the portal's server, scripts)",
        },
        ACCESS_TOKEN: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A person's OpenID Connect access token from the identity provider the service "
            "trusts (PDI_OIDC_ISSUER; where none is configured, a token is refused as a key would be: 401)",
        },
    }
    if oidc_issuer is not None:
        # The same header again; this scheme tells clients (and /docs' Authorize) where to get a
        # token: the issuer's discovery document.
        schemes[OPENID] = {
            "type": "openIdConnect",
            "openIdConnectUrl": oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
            "description": "A person signed in with the département's identity provider (their access token)",
        }
    return schemes


def _complete(
    schema: dict[str, Any], key_required: dict[tuple[str, str], bool], *, oidc_issuer: str | None = None
) -> None:
    schemas = schema["components"].setdefault("schemas", {})
    schemes = _security_schemes(oidc_issuer)
    schema["components"]["securitySchemes"] = schemes
    # Each scheme an alternative: any one of them will do.
    required = [{name: []} for name in schemes]
    schemas["Problem"] = Problem.model_json_schema(ref_template=COMPONENT_REF)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            summary, _, rest = (operation.get("description") or "").strip().partition("\n")
            if summary:
                operation["summary"] = summary.strip()
                operation["description"] = rest.strip()
            if key_required.get((path, method), False):
                operation["security"] = required
            else:
                operation["security"] = []
                operation["x-key-optional"] = True
            responses = operation["responses"]
            statuses = [401, 403, 429, 503, 422]
            if "requestBody" in operation:
                statuses += [400, 413]
            for status in statuses:
                responses.setdefault(str(status), {})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400 and _is_a_problem(response):
                    responses[status] = _problem_response(int(status), _own_description(int(status), response))
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _hoist_definitions(schema, schemas)


def _hoist_definitions(node: Any, schemas: dict[str, Any]) -> None:
    """Move every embedded `$defs` into the components, and point `#/$defs/X` at them."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
            _hoist_definitions(definition, schemas)
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            node["$ref"] = COMPONENT_REF.format(model=reference.removeprefix("#/$defs/"))
        for value in list(node.values()):
            _hoist_definitions(value, schemas)
    elif isinstance(node, list):
        for value in node:
            _hoist_definitions(value, schemas)
