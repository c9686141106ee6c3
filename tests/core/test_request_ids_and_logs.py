"""X-Request-ID on every response, the same id on every log line of the request (the service's and
uvicorn's access log), and PDI_LOG_FORMAT=json as one JSON object per line."""

import json
import re

import httpx
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.main import create_app
from tests.core.conftest import served

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_a_request_without_an_id_gets_a_new_one(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second)
    assert first != second


def test_the_callers_id_comes_back_when_it_is_a_plain_token(client):
    for sent in ("0b6a1c1e-4c7e-4e0f-9a57-1b2f0d4f8a11", "portail-rsa.2026-11-30:000123"):
        response = client.get("/api/v1/families", headers={"X-Request-ID": sent})
        assert response.headers["X-Request-ID"] == sent


def test_a_strange_id_is_replaced_by_a_new_one(client):
    for sent in ("<script>alert(1)</script>", "a b", "x" * 129, "é".encode("latin-1")):
        response = client.get("/healthz", headers={"X-Request-ID": sent})
        assert HEX_ID.fullmatch(response.headers["X-Request-ID"]), sent


def test_the_warning_about_a_strange_id_names_its_request_by_the_new_one(app, log_output):
    logs = log_output("text")
    with TestClient(app) as client:
        given = client.get("/healthz", headers={"X-Request-ID": "a b"}).headers["X-Request-ID"]
    [line] = [line for line in logs.getvalue().splitlines() if "failed validation" in line]
    assert f"[{given}]" in line


def test_refusals_carry_the_id_too(client):
    for path in ("/api/v1/nothing-here", "/api/v1/conventions", "/api/v1/families?page=0"):  # 404, 401, 422
        response = client.get(path, headers={"X-Request-ID": "refused-1"})
        assert response.status_code >= 400
        assert response.headers["X-Request-ID"] == "refused-1"


def test_a_500_and_its_log_line_carry_the_id(log_output):
    app = create_app(get_settings())

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    logs = log_output("text")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "broken-42"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "broken-42"
    [line] = [line for line in logs.getvalue().splitlines() if "unhandled error" in line]
    assert "[broken-42]" in line


def test_uvicorns_access_log_carries_the_id(app, log_output):
    logs = log_output("text")
    with served(app) as url:
        httpx.get(f"{url}/healthz", headers={"X-Request-ID": "access-7"})
        generated = httpx.get(f"{url}/healthz").headers["X-Request-ID"]
    access = [line for line in logs.getvalue().splitlines() if " uvicorn.access " in line]
    assert len(access) == 2, logs.getvalue()
    assert "[access-7]" in access[0] and '"GET /healthz HTTP/1.1" 200' in access[0]
    assert f"[{generated}]" in access[1]


def test_json_format_is_one_object_per_line_with_the_request_id(app, log_output):
    logs = log_output("json")
    with served(app) as url:
        httpx.get(f"{url}/healthz", headers={"X-Request-ID": "json-9"})
    lines = logs.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line, uvicorn's start-up lines included
    assert records and all(isinstance(record, dict) for record in records)
    [access] = [record for record in records if record["logger"] == "uvicorn.access"]
    assert access["request_id"] == "json-9"
    assert access["level"] == "INFO" and "GET /healthz" in access["message"] and access["time"]
    assert all(record["request_id"] == "-" for record in records if record is not access)
