"""The OpenAPI document (SPEC C2): a committed snapshot, so that any change of the contract is a
visible diff, and the rules that make it true."""

import json
from http import HTTPStatus
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
PUBLIC = {
    ("get", "/api/v1/families"),
    ("get", "/api/v1/families/{code}"),
    ("get", "/api/v1/actions"),
    ("get", "/api/v1/actions/{code}"),
    ("get", "/api/v1/operators"),
    ("get", "/api/v1/operators/{operator_id}"),
    ("get", "/api/v1/operators/{operator_id}/sites"),
    ("get", "/api/v1/availability"),
    ("get", "/api/v1/reference/exit-reasons"),
    ("get", "/api/v1/reference/indicators"),
    ("get", "/api/v1/reference/data-inclusion"),
    ("get", "/api/v1/reference/refusal-reasons"),
    ("get", "/api/v1/reference/diagnostic-dimensions"),
    ("get", "/api/v1/exports/data-inclusion/structures"),
    ("get", "/api/v1/exports/data-inclusion/services"),
    ("get", "/api/v1/exports/data-inclusion/template.xlsx"),
    ("get", "/api/v1/exports/scdl/subventions"),
    ("get", "/api/v1/changes"),
    ("get", "/healthz"),
    ("get", "/readyz"),
}


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.openapi()


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_the_document_is_the_committed_snapshot(document):
    live = json.loads(json.dumps(document, sort_keys=True))
    committed = json.loads(SNAPSHOT.read_text())
    assert live == committed, (
        "The OpenAPI document changed: if the change is meant, regenerate the snapshot with "
        "`.venv/bin/pdi openapi > docs/openapi.json` and commit it with the change."
    )


def test_operation_ids_are_short_stable_function_names(document):
    ids = [operation["operationId"] for _method, _path, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(identifier.replace("_", "").isalpha() and identifier.islower() for identifier in ids)
    assert {"list_families", "get_family", "create_pathway", "post_exit_records", "get_bilan"} <= set(ids)


def test_public_routes_take_a_key_optionally_and_the_others_require_one(document):
    # Public: no requirement (no padlock in Swagger UI), a key optional; the others: a key or a
    # person's access token, either will do.
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC:
            assert operation["security"] == [], (method, path)
            assert operation["x-key-optional"] is True, (method, path)
        else:
            assert operation["security"] == [{"ApiKey": []}, {"AccessToken": []}], (method, path)
            assert "x-key-optional" not in operation, (method, path)


def test_both_schemes_are_declared_whatever_the_settings(document):
    """Generated clients can send a key or a person's token, both `Authorization: Bearer`, with no
    issuer configured when the document was made (SPEC C10); each scheme is used."""
    schemes = document["components"]["securitySchemes"]
    assert schemes.keys() == {"ApiKey", "AccessToken"}
    assert {scheme["type"] for scheme in schemes.values()} == {"http"}
    assert {scheme["scheme"] for scheme in schemes.values()} == {"bearer"}
    assert schemes["AccessToken"]["bearerFormat"] == "JWT"
    used = {
        name for _method, _path, operation in operations(document) for item in operation["security"] for name in item
    }
    assert used == schemes.keys()


def test_every_operation_documents_what_any_caller_may_get(document):
    # A bad key or token (401), a valid token no membership matches (403), the limits and the database.
    for method, path, operation in operations(document):
        assert {"401", "403", "422", "429", "503"} <= operation["responses"].keys(), (method, path)


def test_problem_items_are_typed(document):
    schemas = document["components"]["schemas"]
    errors = schemas["Problem"]["properties"]["errors"]["anyOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/ProblemItem"}} in errors
    item = schemas["ProblemItem"]
    assert item["required"] == ["loc", "msg"]
    assert item["properties"]["msg"]["type"] == "string"
    assert item["properties"]["loc"]["items"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


def test_every_ref_resolves(document):
    def refs(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(document))
    assert found
    assert {ref.removeprefix("#/components/schemas/") for ref in found} <= document["components"]["schemas"].keys()


@pytest.mark.parametrize(
    ("path", "formats"),
    [
        (
            "/api/v1/bilan",
            {"text/csv": None, XLSX: "binary", "application/pdf": "binary", "text/markdown": None, "text/html": None},
        ),
        ("/api/v1/reports/esf", {"text/csv": None, XLSX: "binary"}),
    ],
)
def test_files_are_declared_under_their_media_types(document, path, formats):
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    assert content.keys() == {"application/json", *formats}
    assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    for media_type, string_format in formats.items():
        assert content[media_type]["schema"]["type"] == "string", media_type
        assert content[media_type]["schema"].get("format") == string_format, media_type


def test_servers_license_and_contact_are_given(document):
    assert document["servers"] == [{"url": "/", "description": "The server that serves this document"}]
    assert document["info"]["license"]["name"]
    assert document["info"]["contact"]["name"]


def test_every_error_is_a_problem_document(document):
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and (path, status) != ("/readyz", "503"):
                assert response["content"] == PROBLEM, (method, path, status)
                assert response["description"] != HTTPStatus(int(status)).phrase, (method, path, status)


def test_limits_and_preconditions_are_documented_where_they_occur(document):
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert {"401", "422", "429", "503"} <= responses.keys(), (method, path)
        assert "Retry-After" in responses["429"]["headers"]
        if "requestBody" in operation:
            assert "413" in responses, (method, path)
        if any(parameter["name"] == "if-match" for parameter in operation.get("parameters", [])):
            assert "412" in responses, (method, path)
    assert "304" in document["paths"]["/api/v1/availability"]["get"]["responses"]


@pytest.mark.parametrize(
    ("path", "header"),
    [
        ("/api/v1/exit-records", "pathway_id,convention_id,beneficiary_ref"),
        ("/api/v1/follow-ups", "pathway_id,observed_on"),
    ],
)
def test_the_csv_bodies_are_documented(document, path, header):
    body = document["paths"][path]["post"]["requestBody"]["content"]
    assert body.keys() == {"application/json", "text/csv"}
    assert body["application/json"]["schema"]["type"] == "array"
    assert body["text/csv"]["schema"]["type"] == "string"
    assert body["text/csv"]["example"].startswith(header)


def test_every_tag_is_described(document):
    described = {tag["name"]: tag["description"] for tag in document["tags"]}
    used = {tag for _method, _path, operation in operations(document) for tag in operation["tags"]}
    assert used <= described.keys()
    assert all(described[tag] for tag in used)


FEED_KINDS_AND_THEIR_GET = {
    "family": "/api/v1/families/{code}",
    "action": "/api/v1/actions/{code}",
    "operator": "/api/v1/operators/{operator_id}",
    "site": "/api/v1/operators/{operator_id}/sites",
    "convention": "/api/v1/conventions/{convention_id}",
    "availability": "/api/v1/availability",
    "pathway": "/api/v1/pathways/{pathway_id}",
    "assessment": "/api/v1/actions/{code}/assessments/{year}",
}


def _read_schema_of(document, path):
    """The schema of the one entity a GET answers (the items' schema for a page)."""
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].removeprefix("#/components/schemas/")
    page = document["components"]["schemas"][name]
    return page["properties"]["items"]["items"]["$ref"] if "items" in page.get("properties", {}) else schema["$ref"]


def test_feed_items_are_a_union_on_kind_with_typed_data(document):
    schemas = document["components"]["schemas"]
    items = schemas["ChangesPage"]["properties"]["items"]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    mapping = items["discriminator"]["mapping"]
    assert mapping.keys() == FEED_KINDS_AND_THEIR_GET.keys()
    assert sorted(option["$ref"] for option in items["oneOf"]) == sorted(mapping.values())
    for kind, path in FEED_KINDS_AND_THEIR_GET.items():
        change = schemas[mapping[kind].removeprefix("#/components/schemas/")]
        assert change["properties"]["kind"]["const"] == kind
        assert change["properties"]["data"]["anyOf"] == [{"$ref": _read_schema_of(document, path)}, {"type": "null"}]


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/api/v1/bilan.xlsx", XLSX),
        ("/api/v1/bilan.pdf", "application/pdf"),
        ("/api/v1/bilan.csv", "text/csv"),
        ("/api/v1/reports/esf.xlsx", XLSX),
        ("/api/v1/reports/esf.csv", "text/csv"),
    ],
)
def test_each_file_has_a_path_answering_it_alone_as_binary(document, path, media_type):
    """SPEC C13: openapi-python-client reads a 200 by its first media type it knows; a path whose
    one media type is a binary string gets a generated function that gives the file as bytes."""
    content = document["paths"][path]["get"]["responses"]["200"]["content"]
    assert content == {media_type: {"schema": {"type": "string", "format": "binary"}}}
