"""Batch bodies that cannot explode (POST /exit-records, POST /follow-ups): a header of unknown or
empty columns is one small problem, an answer lists at most 100 errors and counts the others,
a charset that is no text encoding is a 415, and the body is parsed off the event loop."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.core.errors import MAX_LISTED_ERRORS
from app.pathways import batches
from tests.pathways.helpers import API, assert_problem

URLS = [f"{API}/exit-records", f"{API}/follow-ups"]
# A header of empty columns, as long as each route takes (1.9 MB; follow-ups have the 1 MB cap).
COMMAS = {URLS[0]: 1_900_000, URLS[1]: 990_000}
SMALL = 50_000  # bytes: what an answer about a malformed body stays under


def _csv(headers: dict[str, str], charset: str | None = None) -> dict[str, str]:
    media_type = "text/csv" + (f"; charset={charset}" if charset else "")
    return {**headers, "Content-Type": media_type}


@pytest.mark.parametrize("url", URLS)
def test_a_csv_of_commas_is_one_small_problem(client, world, url, nothing_stored):
    with nothing_stored():
        response = client.post(url, content=b"," * COMMAS[url], headers=_csv(world.operator_key))
    problem = assert_problem(response, 422)
    assert len(response.content) < SMALL
    columns = COMMAS[url] + 1
    assert f"{columns} column(s)" in problem["detail"] and "column 1 (empty)" in problem["detail"]
    assert len(problem["errors"]) == MAX_LISTED_ERRORS
    assert problem["errors"][0] == {"loc": ["header", 1], "msg": "empty column name"}
    assert problem["errors_not_listed"] == columns - MAX_LISTED_ERRORS


@pytest.mark.parametrize("url", URLS)
def test_unknown_columns_are_named_in_one_problem(client, world, url):
    header = "pathway_id,nir,,pathway_id," + "x" * 10_000
    response = client.post(url, content=f"{header}\n1,2,3,4,5\n", headers=_csv(world.operator_key))
    problem = assert_problem(response, 422)
    assert "'nir'" in problem["detail"] and "column 3 (empty)" in problem["detail"]
    assert [error["loc"] for error in problem["errors"]] == [["header", 2], ["header", 3], ["header", 4], ["header", 5]]
    assert problem["errors"][2]["msg"] == "column 'pathway_id' named twice"
    assert len(response.content) < 2_000  # the 10,000-character name is cut


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("charset", ["rot13", "zlib_codec", "base64", "hex", "utf-7", "idna", "undefined", "klingon"])
def test_a_charset_that_is_no_text_encoding_is_a_415(client, world, url, charset):
    body = b"pathway_id,exited_on\n1,2019-06-30\n"
    problem = assert_problem(client.post(url, content=body, headers=_csv(world.operator_key, charset)), 415)
    assert "charset" in problem["detail"]


@pytest.mark.parametrize("charset", ["windows-1252", "cp1252", "ISO-8859-15", "utf-8", "UTF-16", "macintosh"])
def test_the_charsets_offices_write_are_read(client, world, charset):
    body = "pathway_id,exited_on,exit_reason\n999999,2019-06-30,training\n".encode(charset)
    response = client.post(URLS[0], content=body, headers=_csv(world.operator_key, charset))
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["problem"]["status"] == 404


@pytest.mark.slow
def test_an_answer_lists_at_most_100_errors_and_counts_the_others(client, world):
    # 1000 items of 3 errors each (two fields missing, one unknown), and one of 500 unknown keys.
    items = [{"colour": "blue"}] * 999 + [{f"x{n}": 0 for n in range(500)}]
    response = client.post(URLS[0], json=items, headers=world.operator_key)
    assert response.status_code == 200, response.text
    problems = [result["problem"] for result in response.json()["results"]]
    listed = sum(len(problem.get("errors", [])) for problem in problems)
    not_listed = sum(problem.get("errors_not_listed", 0) for problem in problems)
    assert listed == MAX_LISTED_ERRORS
    assert listed + not_listed == 999 * 3 + 500 + 2
    assert problems[0]["errors"] == [
        {"loc": ["exited_on"], "msg": "Field required"},
        {"loc": ["exit_reason"], "msg": "Field required"},
        {"loc": ["colour"], "msg": "Extra inputs are not permitted"},
    ]
    assert "errors" not in problems[-1] and problems[-1]["errors_not_listed"] == 502
    assert len(response.content) < 300_000


def test_an_atomic_answer_lists_at_most_100_errors_too(client, world):
    items = [{"colour": "blue"}] * 1000
    response = client.post(URLS[0], json=items, headers=world.operator_key, params={"atomic": "true"})
    problem = assert_problem(response, 422)
    assert sum(len(result["problem"].get("errors", [])) for result in problem["results"]) == MAX_LISTED_ERRORS


@pytest.mark.parametrize("url", URLS)
def test_healthz_answers_while_a_batch_is_parsed(client, world, url, monkeypatch):
    """The body is parsed in the route's thread: while a batch is being parsed, the event loop
    serves other requests. Were it parsed on the loop, /healthz could only answer once the
    parse's wait had run out (`answered_meanwhile` False)."""
    parsing, answered = threading.Event(), threading.Event()
    answered_meanwhile = []
    parse = batches.parse_items

    def parse_once_healthz_answered(*args, **kwargs):
        parsing.set()
        answered_meanwhile.append(answered.wait(timeout=30))
        return parse(*args, **kwargs)

    monkeypatch.setattr(batches, "parse_items", parse_once_healthz_answered)
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = pool.submit(client.post, url, content=b"," * COMMAS[url], headers=_csv(world.operator_key))
        assert parsing.wait(timeout=30)
        health = client.get("/healthz")
        answered.set()
        response = batch.result(timeout=60)
    assert health.status_code == 200
    assert answered_meanwhile == [True]
    assert_problem(response, 422)
    assert len(response.content) < SMALL


def test_a_json_item_of_a_million_unknown_characters_is_a_small_error(client, world):
    items = [{"x" * 1_000_000: 1, "exited_on": "2019-06-30"}]
    response = client.post(
        URLS[0], content=json.dumps(items), headers={**world.operator_key, "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert len(response.content) < 2_000


def test_any_route_lists_at_most_100_errors(client, world):
    """FastAPI's own validation (a pathway's body) is rendered with the same cap."""
    body = {"convention_id": world.convention.id, "prescribed_on": "2019-01-10"} | {f"x{n}": 0 for n in range(500)}
    response = client.post(f"{API}/pathways", json=body, headers=world.operator_key)
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == MAX_LISTED_ERRORS
    assert problem["errors_not_listed"] == 501 - MAX_LISTED_ERRORS  # the unknown keys and the missing ref
