"""POST /exit-records: JSON lists and CSV, per-item results, all-or-nothing, limits, ownership,
and the number of queries per item."""

import asyncio
import json
from datetime import date

import pytest
from sqlalchemy import event
from starlette.requests import Request

from app.core.config import get_settings
from app.core.errors import PayloadTooLarge
from app.pathways import access
from app.pathways.batches import read_batch
from app.pathways.models import Pathway
from tests.pathways.helpers import API, assert_problem, stored_pathway

URL = f"{API}/exit-records"
CSV_HEADER = "pathway_id,convention_id,beneficiary_ref,entered_on,exited_on,exit_reason,hours"


def exit_of(session, pathway_id):
    session.expire_all()
    row = session.get(Pathway, pathway_id)
    return row.exited_on, row.exit_reason, row.hours


@pytest.fixture
def entered(session, world):
    """Three active pathways of operator A's convention (refs E-0, E-1, E-2, entered on 1 Feb 2019)."""
    return [stored_pathway(session, world.convention.id, f"E-{n}", entered_on=date(2019, 2, 1)) for n in range(3)]


def test_exits_by_id_and_by_natural_key(client, world, session, entered):
    items = [
        {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training", "hours": 120},
        {
            "convention_id": world.convention.id,
            "beneficiary_ref": "e-1",
            "entered_on": "2019-02-01",
            "exited_on": "2019-07-31",
            "exit_reason": "employment_cdi",
        },
    ]
    response = client.post(URL, json=items, headers=world.operator_key)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "results": [
            {"index": 0, "line": None, "status": "created", "pathway_id": entered[0].id, "problem": None},
            {"index": 1, "line": None, "status": "created", "pathway_id": entered[1].id, "problem": None},
        ],
        "counts": {"created": 2, "unchanged": 0, "error": 0},
    }
    assert exit_of(session, entered[0].id) == (date(2019, 6, 30), "training", 120)
    assert exit_of(session, entered[1].id) == (date(2019, 7, 31), "employment_cdi", None)

    again = client.post(URL, json=items, headers=world.operator_key)
    assert [r["status"] for r in again.json()["results"]] == ["unchanged", "unchanged"]
    assert again.json()["counts"] == {"created": 0, "unchanged": 2, "error": 0}


def test_a_bad_item_never_blocks_the_good_ones(client, world, session, entered):
    stored_pathway(
        session,
        world.convention.id,
        "E-9",
        entered_on=date(2019, 2, 1),
        exited_on=date(2019, 3, 1),
        exit_reason="moved",
    )
    prescribed = stored_pathway(session, world.convention.id, "E-8")
    theirs = stored_pathway(session, world.other_convention.id, "E-7", entered_on=date(2019, 2, 1))
    good = {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training"}
    items = [
        {"pathway_id": 999_999_999, "exited_on": "2019-06-30", "exit_reason": "training"},
        {"pathway_id": entered[1].id, "exited_on": "2019-06-30", "exit_reason": "fired"},
        good,
        {
            "convention_id": world.convention.id,
            "beneficiary_ref": "E-9",
            "entered_on": "2019-02-01",
            "exited_on": "2019-03-02",
            "exit_reason": "moved",
        },
        {"pathway_id": prescribed.id, "exited_on": "2019-06-30", "exit_reason": "training"},
        "not an object",
        {
            "pathway_id": entered[2].id,
            "convention_id": world.convention.id,
            "exited_on": "2019-06-30",
            "exit_reason": "training",
        },
        {"pathway_id": theirs.id, "exited_on": "2019-06-30", "exit_reason": "training"},
        {**good, "exit_reason": "moved"},  # the same pathway again, another reason
    ]
    response = client.post(URL, json=items, headers=world.operator_key)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [
        "error",
        "error",
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
    ]
    assert [r["problem"]["status"] if r["problem"] else None for r in results] == [
        404,
        422,
        None,
        409,
        422,
        422,
        422,
        404,
        409,
    ]
    for result in results:
        if result["problem"]:
            assert set(result["problem"]) >= {"type", "title", "status", "detail"}
    assert response.json()["counts"] == {"created": 1, "unchanged": 0, "error": 8}
    assert exit_of(session, entered[0].id) == (date(2019, 6, 30), "training", None)
    assert exit_of(session, entered[1].id) == (None, None, None)
    assert exit_of(session, theirs.id) == (None, None, None)


def test_atomic_batch_with_a_bad_item_stores_nothing(client, world, session, entered, nothing_stored):
    items = [
        {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training"},
        {"pathway_id": entered[1].id, "exited_on": "2019-06-30", "exit_reason": "fired"},
    ]
    with nothing_stored():
        response = client.post(URL, params={"atomic": "true"}, json=items, headers=world.operator_key)
        problem = assert_problem(response, 422)
    assert problem["counts"] == {"created": 1, "unchanged": 0, "error": 1}
    assert [r["status"] for r in problem["results"]] == ["created", "error"]
    assert "nothing was stored" in problem["detail"]


def test_atomic_batch_without_errors_is_stored(client, world, session, entered):
    items = [{"pathway_id": p.id, "exited_on": "2019-06-30", "exit_reason": "training"} for p in entered]
    response = client.post(URL, params={"atomic": "true"}, json=items, headers=world.operator_key)
    assert response.status_code == 200
    assert response.json()["counts"]["created"] == 3
    assert all(exit_of(session, p.id)[0] == date(2019, 6, 30) for p in entered)


def test_csv_batch(client, world, session, entered):
    body = (
        "\n".join(
            [
                CSV_HEADER,
                f"{entered[0].id},,,,2019-06-30,training,35.5",
                f",{world.convention.id},E-1,2019-02-01,2019-06-30,completed,",
                f"{entered[2].id},,,,2019-06-30,,",  # no reason
            ]
        )
        + "\n"
    )
    response = client.post(URL, content=body.encode(), headers={**world.operator_key, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["created", "created", "error"]
    assert exit_of(session, entered[0].id) == (date(2019, 6, 30), "training", 35.5)
    assert exit_of(session, entered[1].id)[:2] == (date(2019, 6, 30), "completed")


def test_csv_from_a_french_spreadsheet(client, world, session, entered):
    """Semicolons, a byte-order mark, Windows line ends, a subset of the columns in another order."""
    body = f"\ufeffexit_reason;exited_on;pathway_id\r\ntraining;2019-06-30;{entered[0].id}\r\n"
    response = client.post(
        URL, content=body.encode("utf-8"), headers={**world.operator_key, "Content-Type": "text/csv; charset=utf-8"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["created"] == 1


def test_csv_row_with_extra_cells_is_an_item_error(client, world, entered):
    body = f"pathway_id,exited_on,exit_reason\n{entered[0].id},2019-06-30,training,surprise\n"
    response = client.post(URL, content=body, headers={**world.operator_key, "Content-Type": "text/csv"})
    assert response.json()["results"][0]["problem"]["status"] == 422


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"[{", 400),
        ("application/json", b"\xff\xfe", 400),
        ("application/json", b'{"items": []}', 422),
        ("text/csv", b"pathway_id,exited_on,nir\n1,2019-01-01,123\n", 422),
        ("text/csv", b"pathway_id,pathway_id\n1,2\n", 422),
        ("text/csv", b"", 422),
        ("text/csv", b'pathway_id,exited_on\n"1"x,2019-01-01\n', 400),
        ("text/csv", "pathway_id,exited_on\n1,é\n".encode("latin-1"), 400),
        ("text/csv; charset=klingon", b"pathway_id\n1\n", 415),
        ("text/plain", b"[]", 415),
        ("application/xml", b"<a/>", 415),
        ("", b"[]", 415),
    ],
)
def test_malformed_bodies_are_refused_whole(client, world, entered, nothing_stored, content_type, body, status):
    headers = {**world.operator_key, "Content-Type": content_type}
    with nothing_stored():
        assert_problem(client.post(URL, content=body, headers=headers), status)


def test_csv_in_latin_1_when_the_charset_says_so(client, world, entered):
    body = f"pathway_id,exited_on,exit_reason\n{entered[0].id},2019-06-30,training\n".encode("latin-1")
    headers = {**world.operator_key, "Content-Type": "text/csv; charset=ISO-8859-1"}
    assert client.post(URL, content=body, headers=headers).json()["counts"]["created"] == 1


def test_an_empty_list_is_an_empty_answer(client, world):
    response = client.post(URL, json=[], headers=world.operator_key)
    assert response.json() == {"results": [], "counts": {"created": 0, "unchanged": 0, "error": 0}}


def test_more_items_than_the_limit_are_refused_whole(client, world, entered, nothing_stored):
    limit = get_settings().max_batch_items
    item = {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training"}
    csv_body = CSV_HEADER + "\n" + f"{entered[0].id},,,,2019-06-30,training,\n" * (limit + 1)
    with nothing_stored():
        assert_problem(client.post(URL, json=[item] * (limit + 1), headers=world.operator_key), 413)
        assert_problem(
            client.post(URL, content=csv_body, headers={**world.operator_key, "Content-Type": "text/csv"}), 413
        )
    # exactly the limit is accepted (the first records the exit, the others find it unchanged)
    response = client.post(URL, json=[item] * limit, headers=world.operator_key)
    assert response.json()["counts"] == {"created": 1, "unchanged": limit - 1, "error": 0}


def test_a_body_over_the_byte_limit_is_refused(client, world, entered, nothing_stored, monkeypatch):
    monkeypatch.setattr(get_settings(), "max_batch_bytes", 200)
    items = [{"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training"}] * 5
    body = json.dumps(items).encode()
    assert len(body) > 200
    with nothing_stored():
        assert_problem(
            client.post(URL, content=body, headers={**world.operator_key, "Content-Type": "application/json"}), 413
        )

        def chunks():  # sent chunked: no Content-Length to trust
            for start in range(0, len(body), 50):
                yield body[start : start + 50]

        response = client.post(
            URL, content=chunks(), headers={**world.operator_key, "Content-Type": "application/json"}
        )
        assert_problem(response, 413)


def test_the_body_is_read_only_until_the_limit_is_passed(monkeypatch):
    """A lying (absent) Content-Length does not make the service read a huge body."""
    monkeypatch.setattr(get_settings(), "max_batch_bytes", 2500)
    received = []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}  # never ends

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_batch(Request(scope, receive)))
    assert len(received) == 3


def test_a_declared_length_over_the_limit_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(get_settings(), "max_batch_bytes", 2500)

    async def receive():
        raise AssertionError("the body should not be read")

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "query_string": b"",
        "headers": [(b"content-type", b"text/csv"), (b"content-length", b"999999")],
    }
    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_batch(Request(scope, receive)))


def test_an_admin_records_exits_of_any_operator(client, admin, world, session):
    theirs = stored_pathway(session, world.other_convention.id, "A-1", entered_on=date(2019, 2, 1))
    response = client.post(
        URL, json=[{"pathway_id": theirs.id, "exited_on": "2019-06-30", "exit_reason": "other"}], headers=admin
    )
    assert response.json()["counts"]["created"] == 1


def test_a_batch_costs_the_same_statements_whatever_its_size(client, world, session, engine):
    """A batch costs the same statements whatever its size: set-based lookups, one UPDATE."""
    for n in range(45):
        stored_pathway(session, world.convention.id, f"Q-{n}", entered_on=date(2019, 2, 1))
    statements = []

    def count(*_args):
        statements.append(1)

    def run(batch) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.post(
                URL,
                json=[
                    {
                        "convention_id": world.convention.id,
                        "beneficiary_ref": f"Q-{n}",
                        "entered_on": "2019-02-01",
                        "exited_on": "2019-06-30",
                        "exit_reason": "training",
                    }
                    for n in batch
                ],
                headers=world.operator_key,
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.json()["counts"]["created"] == len(batch)
        return len(statements)

    run(range(40, 45))  # first use of the key: its last-use stamp, the setup's feed rows
    small, large = run(range(0, 10)), run(range(10, 40))
    assert large == small, (small, large)


def test_an_exit_decided_before_the_locks_is_decided_again_when_a_writer_came_in_between(
    client, world, session, entered, monkeypatch
):
    """A batch decides on its pathways as read, then locks them: a pathway another writer exited
    in between (here, in the same transaction, just before the lock) is decided again on what is
    locked, a 409 for an exit of another date, and keeps the other writer's exit."""
    lock = access.lock_writable_pathways

    def another_writer_first(**arguments):
        pathway = arguments["session"].get(Pathway, entered[0].id)
        pathway.exited_on, pathway.exit_reason = date(2019, 4, 30), "moved"
        arguments["session"].flush()
        return lock(**arguments)

    monkeypatch.setattr(access, "lock_writable_pathways", another_writer_first)
    items = [
        {"pathway_id": entered[0].id, "exited_on": "2019-06-30", "exit_reason": "training"},
        {"pathway_id": entered[1].id, "exited_on": "2019-06-30", "exit_reason": "training"},
    ]
    response = client.post(URL, json=items, headers=world.operator_key)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert (first["status"], first["problem"]["status"]) == ("error", 409)
    assert second["status"] == "created"
    assert exit_of(session, entered[0].id) == (date(2019, 4, 30), "moved", None)
    assert exit_of(session, entered[1].id) == (date(2019, 6, 30), "training", None)
